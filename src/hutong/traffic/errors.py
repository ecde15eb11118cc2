"""Error codes of the traffic exchange.

All of them live here, including those the compiled hot path raises (tokens, passcodes):
mypyc drops the class attributes (``code``, ``title``) of exception classes it compiles.
"""

from __future__ import annotations

from hutong.errors import Conflict, Gone, InvalidInput, NotFound


class PlatformNotFound(NotFound):
    code = "platform_not_found"


class CodeTaken(Conflict):
    code = "code_taken"


class WrongPlatform(InvalidInput):
    code = "wrong_platform"


class OutsideWindow(InvalidInput):
    code = "outside_attribution_window"


class InvalidToken(InvalidInput):
    code = "invalid_click_token"
    title = "Invalid click token"


class PasscodeNotFound(NotFound):
    code = "passcode_not_found"


class PasscodeExpired(Gone):
    code = "passcode_expired"


class InvalidTarget(InvalidInput):
    code = "invalid_target"
    title = "Target not allowed"
