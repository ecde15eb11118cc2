"""Rate limits protect the API and the redirect: a key, an address without a key, an address
inventing keys, and an address flooding a link each get 429 with Retry-After once over their
rate, while health probes are never refused and a refused tap is never logged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hutong.worker.runner import compact_all
from tests.api.market import MOBILE_SAFARI, build_market, ok
from tests.conftest import Backend, LiveServer, make_settings, own_world, serving

# one token a second: a request taking even 100 ms refills a tenth of one, so the counts
# below hold on a slow machine
PER_KEY, BURST, ANONYMOUS, FLOOD = 1, 5, 1, 8


@contextmanager
def limited_server(backend: Backend, tmp_path: Path, **limits: int) -> Iterator[LiveServer]:
    with own_world(make_settings(tmp_path, backend.url, **limits)) as world, serving(world) as live:
        yield live


@pytest.fixture
def limited(backend: Backend, tmp_path: Path) -> Iterator[LiveServer]:
    """The API held to a few requests."""
    limits = {
        "api_rate_per_second": PER_KEY,
        "api_burst": BURST,
        "anonymous_rate_per_second": ANONYMOUS,
    }
    with limited_server(backend, tmp_path, **limits) as server:
        yield server


@pytest.fixture
def flooded(backend: Backend, tmp_path: Path) -> Iterator[LiveServer]:
    """The jump held to a few taps a minute per address (the API at its defaults)."""
    with limited_server(
        backend, tmp_path, bot_rate_per_minute=3, jump_flood_per_minute=FLOOD
    ) as server:
        yield server


def _get(server: LiveServer, path: str, address: str, key: str = "") -> httpx.Response:
    headers = {"X-Forwarded-For": address}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.get(path, headers=headers)


def _refused(answer: httpx.Response) -> bool:
    if answer.status_code != 429:
        return False
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) >= 1
    return True


def test_a_key_an_address_and_invented_keys_are_each_held_to_their_rate(
    limited: LiveServer,
) -> None:
    key = limited.world.operator_key
    assert all(_get(limited, "/healthz", "10.0.0.1").status_code == 200 for _ in range(12))
    answers = [_get(limited, "/v1/me", "10.0.0.1", key) for _ in range(BURST + 1)]
    assert [a.status_code for a in answers[:BURST]] == [200] * BURST
    assert _refused(answers[BURST])
    assert "with this key" in answers[BURST].json()["detail"]
    # the same key from another address is still over its own rate
    assert _refused(_get(limited, "/v1/me", "10.0.0.9", key))
    # probes are never refused
    assert _get(limited, "/healthz", "10.0.0.1").status_code == 200

    # without a key: the address's anonymous bucket (burst twice the rate)
    anonymous = [_get(limited, "/v1/me", "10.0.0.2") for _ in range(2 * ANONYMOUS + 1)]
    assert [a.status_code for a in anonymous[:-1]] == [401] * (2 * ANONYMOUS)
    assert _refused(anonymous[-1]) and "from this address" in anonymous[-1].json()["detail"]

    # a new key per request does not escape: the address is held to one key's rate
    invented = [_get(limited, "/v1/me", "10.0.0.3", f"htk_x_{i}") for i in range(BURST + 1)]
    assert [a.status_code for a in invented[:BURST]] == [401] * BURST
    assert _refused(invented[BURST])


def test_an_address_flooding_a_link_gets_429_and_its_taps_are_not_logged(
    flooded: LiveServer,
) -> None:
    market = build_market(flooded)
    try:
        splash = market.placement("douyin", "splash")
        link = market.link("tmall", market.campaign("tmall", [splash]), splash)
        deadline = time.monotonic() + 5
        while link["code"] not in flooded.world.runtime.cache.links:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        headers = {"User-Agent": MOBILE_SAFARI, "X-Forwarded-For": "10.7.7.7"}
        with httpx.Client(base_url=flooded.url, follow_redirects=False) as client:
            taps = [client.get(f"/j/{link['code']}", headers=headers) for _ in range(FLOOD + 3)]
            other = client.get(
                f"/j/{link['code']}", headers={**headers, "X-Forwarded-For": "10.7.7.8"}
            )
        statuses = [t.status_code for t in taps]
        # a minute may turn during the taps: then the count starts again, never more 429s
        assert statuses[:FLOOD] == [302] * FLOOD, statuses
        assert set(statuses[FLOOD:]) <= {302, 429} and 429 in statuses[FLOOD:], statuses
        refused = taps[statuses.index(429)]
        assert refused.headers["content-type"].startswith("text/html")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert other.status_code == 302  # another address is unaffected

        flooded.world.runtime.clicks.rotate()
        time.sleep(0.1)
        compact_all(flooded.world.settings)
        logged = ok(market.client("douyin").get("/v1/clicks", params={"limit": 100}))
        assert len(logged) == statuses.count(302) + 1  # every served tap, no refused one
        assert sum(1 for c in logged if c["bot_reason"] == "rate") >= FLOOD - 3
    finally:
        market.close()
