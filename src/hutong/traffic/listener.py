"""A dedicated HTTP/1.1 listener for ``GET /j/{code}`` in front of the ASGI app.

uvicorn takes this class as its ``http`` protocol. Requests for ``/j/`` are answered right
here from ``data_received``: no ASGI scope, no task, no await. The first request on a
connection that is anything else hands the whole connection, bytes already read included, to
uvicorn's own httptools protocol, which serves the FastAPI app as usual (where ``/j/{code}``
also exists, so a handed-over connection still jumps correctly, only more slowly).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hutong.traffic.jump import JumpAnswer, Jumper, JumpRequest

log = logging.getLogger("hutong.traffic.listener")

MAX_HEAD = 16 * 1024
_CODE = re.compile(rb"^[0-9A-Za-z_-]{1,32}$")
_REASONS = {
    200: b"OK",
    302: b"Found",
    403: b"Forbidden",
    404: b"Not Found",
    429: b"Too Many Requests",
    500: b"Server Error",
}


class ClickBatch:
    """Answers held until their clicks are in the log: one ``write(2)`` per event-loop turn.

    Every jump answered in one turn of the loop is appended here; a callback scheduled for the
    end of the turn writes all their log lines with a single system call and only then sends
    the answers, in arrival order. If the write fails, none of them is sent a redirect.
    """

    def __init__(self, jumper: Jumper) -> None:
        self.jumper = jumper
        self.records: list[bytes] = []
        self.answers: list[tuple[asyncio.Transport, bytes, bool]] = []
        self.server_state: Any = None  # uvicorn's, set by the first connection
        self._defaults: tuple[object, bytes] = (None, b"")

    def default_headers(self) -> bytes:
        """uvicorn's date/server headers as bytes; uvicorn replaces the list once a second."""
        headers = self.server_state.default_headers
        if self._defaults[0] is not headers:
            self._defaults = (headers, b"".join(b"%b: %b\r\n" % (n, v) for n, v in headers))
        return self._defaults[1]

    def add(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.Transport,
        data: bytes,
        record: bytes,
        close: bool,
    ) -> None:
        if not self.answers:
            loop.call_soon(self.flush)
        if record:
            self.records.append(record)
        self.answers.append((transport, data, close))

    def flush(self) -> None:
        records, answers = self.records, self.answers
        self.records, self.answers = [], []
        self.server_state.total_requests += len(answers)
        try:
            if records:
                self.jumper.clicks.append_bytes(b"".join(records))
        except OSError:
            log.exception("the click log could not be written; answering 503")
            for transport, _, _ in answers:
                if not transport.is_closing():
                    transport.write(UNAVAILABLE)
                    transport.close()
            return
        for transport, data, close in answers:
            if not transport.is_closing():
                transport.write(data)
                if close:
                    transport.close()


UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class JumpProtocol(asyncio.Protocol):
    """One connection's protocol. Built by the factory ``bound`` returns, never directly."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        jumper: Jumper,
        batch: ClickBatch,
        trusted_proxies: frozenset[str],
    ) -> None:
        self.jumper = jumper
        self.batch = batch
        self.trusted_proxies = trusted_proxies
        batch.server_state = server_state
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        self._buf = b""
        self._peer = ""
        self._active = True
        self._idle_handle: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    @staticmethod
    def bound(jumper: Jumper, trusted_proxies: frozenset[str]) -> Callable[..., JumpProtocol]:
        """The protocol factory uvicorn takes as its ``http`` class, bound to one Jumper.

        A factory, not a subclass made with ``type()``: this module is compiled with mypyc
        (docs/performance.md), and interpreted classes cannot inherit from compiled ones.
        """
        batch = ClickBatch(jumper)

        def protocol(
            config: Any,
            server_state: Any,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> JumpProtocol:
            return JumpProtocol(
                config,
                server_state,
                app_state,
                _loop,
                jumper=jumper,
                batch=batch,
                trusted_proxies=trusted_proxies,
            )

        return protocol

    # -- connection lifecycle --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = self.transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        self._server_state.connections.add(self)
        self._idle_handle = self._loop.call_later(self._config.timeout_keep_alive, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_state.connections.discard(self)
        if self._idle_handle is not None:
            self._idle_handle.cancel()

    def shutdown(self) -> None:
        """uvicorn calls this on every connection when the server stops."""
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def _check_idle(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if not self._active and not self._buf:
            self.transport.close()
            return
        self._active = False
        self._idle_handle = self._loop.call_later(self._config.timeout_keep_alive, self._check_idle)

    # -- requests ---------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self._active = True
        buf = self._buf + data if self._buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._hand_over(buf)
                    return
                self._buf = buf
                return
            parsed = self._parse(buf[:end]) if buf.startswith((b"GET /j/", b"HEAD /j/")) else None
            if parsed is None:
                self._hand_over(buf)
                return
            request, keep_alive = parsed
            self._respond(request, keep_alive)
            buf = buf[end + 4 :]
            if not keep_alive:
                self._buf = b""
                assert self.transport is not None
                self.transport.pause_reading()  # the batch closes it once answered
                return
            if not buf:
                self._buf = b""
                return

    def _parse(self, head: bytes) -> tuple[JumpRequest, bool] | None:
        """A JumpRequest from a request head, or None to let uvicorn judge the request."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            return None
        method, target, version = parts
        path, _, query = target.partition(b"?")
        code = path[3:]
        if not _CODE.match(code):
            return None
        keep_alive = version == b"HTTP/1.1"
        ua = referer = forwarded = purpose = b""
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name[-1:] in (b" ", b"\t"):
                return None
            name = name.lower()
            value = value.strip()
            if name == b"user-agent":
                ua = value
            elif name == b"referer":
                referer = value
            elif name == b"x-forwarded-for":
                forwarded = value
            elif name in (b"purpose", b"sec-purpose", b"x-moz", b"x-purpose"):
                purpose = value
            elif name == b"connection":
                token = value.lower()
                keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
            elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return None
        ip = self._peer
        if forwarded and ip in self.trusted_proxies:
            ip = forwarded.rsplit(b",", 1)[-1].strip().decode("latin-1")
        request = JumpRequest(
            method=method.decode(),
            code=code.decode(),
            query=query.decode("latin-1"),
            user_agent=ua.decode("latin-1"),
            referer=referer.decode("latin-1"),
            client_ip=ip,
            purpose=purpose.decode("latin-1"),
        )
        return request, keep_alive

    def _respond(self, request: JumpRequest, keep_alive: bool) -> None:
        assert self.transport is not None
        try:
            answer = self.jumper.jump(request)
        except Exception:
            log.exception("jump for code %r failed", request.code)
            answer = JumpAnswer(500, [("content-type", "text/plain")], b"internal error")
            keep_alive = False
        data = serialise(answer, request.method, keep_alive, self.batch.default_headers())
        self.batch.add(self._loop, self.transport, data, answer.record, not keep_alive)

    def _hand_over(self, buf: bytes) -> None:
        """Give this connection, with what it has sent so far, to uvicorn's protocol."""
        assert self.transport is not None
        if any(t is self.transport for t, _, _ in self.batch.answers):
            # answers to earlier requests on this connection are still queued: hand over
            # after they are sent, so responses stay in request order
            self.transport.pause_reading()
            self._loop.call_soon(self._hand_over_later, buf)
            return
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        self._server_state.connections.discard(self)
        protocol = HttpToolsProtocol(
            config=self._config,
            server_state=self._server_state,
            app_state=self._app_state,
            _loop=self._loop,
        )
        protocol.connection_made(self.transport)
        self.transport.set_protocol(protocol)
        self._buf = b""
        protocol.data_received(buf)

    def _hand_over_later(self, buf: bytes) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self._hand_over(buf)
        self.transport.resume_reading()


def serialise(answer: JumpAnswer, method: str, keep_alive: bool, defaults: bytes) -> bytes:
    reason = _REASONS.get(answer.status, b"")
    head = b"HTTP/1.1 %d %b\r\n%b" % (answer.status, reason, defaults)
    lines = "".join(f"{name}: {value}\r\n" for name, value in answer.headers)
    tail = b"" if keep_alive else b"connection: close\r\n"
    body = answer.body if method != "HEAD" else b""
    return b"%b%bcontent-length: %d\r\n%b\r\n%b" % (
        head,
        lines.encode("latin-1"),
        len(answer.body),
        tail,
        body,
    )
