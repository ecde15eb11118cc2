"""The domain's error base: a stable machine-readable ``code`` and the HTTP status it maps to.

Domain code raises these; the API turns them into RFC 9457 problem+json and the CLI into a
message and exit code. Nothing here imports a web framework.
"""

from __future__ import annotations

from typing import Any


class HutongError(Exception):
    """An expected failure the caller can act on."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(HutongError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(HutongError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Forbidden(HutongError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(HutongError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class InvalidInput(HutongError):
    status = 422
    code = "validation_failed"
    title = "Invalid input"


class Gone(HutongError):
    status = 410
    code = "gone"
    title = "Gone"


class TooManyRequests(HutongError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
