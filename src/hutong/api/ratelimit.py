"""Rate limits of the API: token buckets, checked before anything else runs for a request.

Three buckets may apply to one request, and each must have a token:

- the client address's, at the per-key rate: no single address sends more than one key may,
  whatever keys (valid or invented) it presents;
- the presented API key's (``Authorization: Bearer`` or ``X-API-Key``), at
  ``api_rate_per_second`` with room for ``api_burst`` at once;
- without a key, the address's anonymous bucket, at ``anonymous_rate_per_second`` (provider
  notifications, tracking pages, passcode resolving).

A refusal is a 429 ``rate_limited`` problem with ``Retry-After`` (whole seconds), sent before
authentication, a session or a handler is touched, so a flood costs a dictionary lookup per
request. ``/healthz`` and ``/metrics`` are never limited (probes must see an overloaded
server), nor is ``/j/``, which has its own limit per address (``jump_flood_per_minute``). The
buckets are per process, like the click guard: N processes admit N times the rate.
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from hutong.api.problems import send_problem

EXEMPT = ("/healthz", "/metrics", "/j/")
PRUNE_SECONDS = 30.0


class TokenBuckets:
    """Buckets of ``burst`` tokens refilled at ``rate`` per second, one per key. A full bucket
    is forgotten at the next pruning (it would be full again anyway), so memory follows the
    keys active in the last ``PRUNE_SECONDS``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._pruned = time.monotonic()

    def wait(self, key: str, now: float) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there will be."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def prune(self, now: float) -> None:
        if now - self._pruned < PRUNE_SECONDS:
            return
        self._pruned = now
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def credential(scope: Scope) -> str:
    """The API key a request presents, as sent (it is never logged or stored from here)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
    return ""


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, per_key: float, burst: float, anonymous: float) -> None:
        self.app = app
        self.addresses = TokenBuckets(per_key, burst)
        self.keys = TokenBuckets(per_key, burst)
        self.anonymous = TokenBuckets(anonymous, 2 * anonymous)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        address = scope["client"][0] if scope.get("client") else ""
        key = credential(scope)
        wait = self.addresses.wait(address, now)
        if not wait:
            wait = self.keys.wait(key, now) if key else self.anonymous.wait(address, now)
        for buckets in (self.addresses, self.keys, self.anonymous):
            buckets.prune(now)
        if not wait:
            await self.app(scope, receive, send)
            return
        await refuse(scope, send, wait, "with this key" if key else "from this address")


async def refuse(scope: Scope, send: Send, wait: float, whose: str) -> None:
    await send_problem(
        send,
        429,
        "rate_limited",
        "Too many requests",
        f"too many requests {whose}; retry after the time in Retry-After",
        scope["path"],
        [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
    )
