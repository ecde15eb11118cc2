"""A kept-alive connection outlives its clients' idle timeout, on the jump and on the API.

httpx keeps an idle connection for 5 s, as uvicorn did: with equal timeouts the server closed
connections at the instant clients reused them, and those requests were lost (a ReadError
seen under load). The server now waits longer than any client, so the client closes first.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.api.market import MOBILE_SAFARI
from tests.api.test_jump_flow import market, wait_for  # noqa: F401  (a fixture)
from tests.conftest import LiveServer

CLIENT_IDLE_SECONDS = 5.0  # httpx's keepalive_expiry, the usual pool's


def ask(conn: socket.socket, path: str) -> bytes:
    """Send one GET on ``conn`` and read its whole answer (headers and sized body)."""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nUser-Agent: {MOBILE_SAFARI}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection instead of answering {path}")
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_idle_connection_is_still_open_when_a_client_reuses_it(
    server: LiveServer,
    market,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    link = market.link("tmall", market.campaign("tmall", [splash]), splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    address = urlsplit(server.url)
    jump = socket.create_connection((address.hostname, address.port))
    api = socket.create_connection((address.hostname, address.port))
    try:
        assert ask(jump, f"/j/{link['code']}").startswith(b"HTTP/1.1 302")
        assert ask(api, "/healthz").startswith(b"HTTP/1.1 200")
        time.sleep(CLIENT_IDLE_SECONDS + 1)  # idle past the client's own timeout
        assert ask(jump, f"/j/{link['code']}").startswith(b"HTTP/1.1 302")
        assert ask(api, "/healthz").startswith(b"HTTP/1.1 200")
    finally:
        jump.close()
        api.close()
