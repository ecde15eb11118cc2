"""Error codes of the traffic exchange."""

from __future__ import annotations

from hutong.errors import Conflict, InvalidInput, NotFound


class PlatformNotFound(NotFound):
    code = "platform_not_found"


class CodeTaken(Conflict):
    code = "code_taken"


class WrongPlatform(InvalidInput):
    code = "wrong_platform"


class OutsideWindow(InvalidInput):
    code = "outside_attribution_window"
