"""Request ids: taken from ``X-Request-Id`` when well-formed, else made; echoed and logged."""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hutong.api import metrics

access = logging.getLogger("hutong.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return secrets.token_hex(8)


def accept_request_id(raw: str | None) -> str:
    """The caller's id if it is short and printable (so logs cannot be forged), else a new one."""
    if raw and _VALID.match(raw):
        return raw
    return new_request_id()


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                raw = value.decode("latin-1")
                break
        rid = accept_request_id(raw)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            took = time.perf_counter() - started
            metrics.record(scope["method"], route, status, took)
            # the path only: query strings may carry tokens or personal data
            access.info("%s %s %d %.1fms", scope["method"], scope["path"], status, took * 1000)
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(level: str) -> None:
    """Log lines carry the request id; personal data is masked before it gets here."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [rid=%(request_id)s] %(message)s")
    )
    root = logging.getLogger("hutong")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
