"""The jump end to end over HTTP: Douyin's splash sends users into Tmall, on both backends."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hutong.traffic.tokens import TokenSigner
from tests.api.market import (
    DESKTOP_CHROME,
    DOUYIN_WEBVIEW,
    MOBILE_SAFARI,
    TAOBAO_APP,
    build_market,
    ok,
)
from tests.conftest import LiveServer


def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def jump(
    server: LiveServer, code: str, ua: str, query: str = "", ip: str = "10.1.1.1"
) -> httpx.Response:
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        return client.get(f"/j/{code}{query}", headers={"User-Agent": ua, "X-Forwarded-For": ip})


@pytest.fixture
def market(server: LiveServer):  # type: ignore[no-untyped-def]
    built = build_market(server)
    yield built
    built.close()


def test_splash_jump_redirects_with_signed_token_and_passthrough(
    server: LiveServer, market
) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash, fixed_params={"utm_source": "douyin"})
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)

    answer = jump(
        server, link["code"], DESKTOP_CHROME, "?utm_campaign=d11&url=https://evil.example&spm=x"
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    parts = urlsplit(location)
    assert parts.scheme == "https" and parts.hostname == "pages.tmall.com"
    query = parse_qs(parts.query)
    assert query["utm_campaign"] == ["d11"] and query["utm_source"] == ["douyin"]
    assert "url" not in query  # destination-like parameters never travel
    assert query["spm"] == ["a1"]  # the target's own parameter cannot be overridden
    claim = TokenSigner((("k2", b"token-key-two"),)).verify(query["ht_ct"][0])
    assert claim.code == link["code"] and not claim.bot

    # on a phone the jump opens the Taobao app through its deep link
    answer = jump(server, link["code"], MOBILE_SAFARI, ip="10.1.1.2")
    assert answer.status_code == 302
    # web is first in the default chain; a universal https link opens the app where installed
    assert answer.headers["location"].startswith("https://pages.tmall.com/")


def test_app_mode_first_chain_uses_the_deep_link(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash, fallback_chain=["app", "web"])
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    answer = jump(server, link["code"], MOBILE_SAFARI)
    location = answer.headers["location"]
    assert location.startswith(
        "tbopen://m.taobao.com/tbopen/index.html?h5Url=https%3A%2F%2Fpages.tmall.com"
    )
    desktop = jump(server, link["code"], DESKTOP_CHROME, ip="10.9.9.9")
    assert desktop.headers["location"].startswith("https://pages.tmall.com/")


def test_douyin_live_room_gets_a_passcode_that_resolves_to_the_same_link(
    server: LiveServer, market
) -> None:  # type: ignore[no-untyped-def]
    live = market.placement("douyin", "live_room")
    campaign = market.campaign("tmall", [live])
    link = market.link("tmall", campaign, live)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)

    page = jump(server, link["code"], DOUYIN_WEBVIEW)
    assert page.status_code == 200
    assert link["passcode"] in page.text and "<svg" in page.text
    pasted = f"【Tmall Double 11】复制这段话 ￥{link['passcode']}￥ 打开淘宝 8.0 "
    with httpx.Client(base_url=server.url) as client:
        resolved = ok(
            client.post(
                "/p/resolve",
                json={"text": pasted},
                headers={"User-Agent": TAOBAO_APP, "X-Forwarded-For": "10.2.2.2"},
            )
        )
        assert resolved["code"] == link["code"]
        assert urlsplit(resolved["location"]).hostname == "pages.tmall.com"
        missing = client.post("/p/resolve", json={"text": "no code here"})
        assert missing.status_code == 404 and missing.json()["code"] == "passcode_not_found"

    server.world.runtime.clicks.rotate()
    time.sleep(0.1)
    from hutong.worker.runner import compact_all

    compact_all(server.world.settings)
    clicks = ok(market.client("douyin").get("/v1/clicks"))
    by_via = {c["via"]: c for c in clicks}
    assert by_via["jump"]["mode"] == "passcode" and by_via["jump"]["billable"] is False
    assert by_via["jump"]["app_platform"] == "douyin" and by_via["jump"]["allowed"] is False
    assert by_via["passcode"]["billable"] is True
    assert by_via["passcode"]["policy_version"] == by_via["jump"]["policy_version"] > 0
    assert "ua" not in by_via["jump"] and "device_key" not in by_via["jump"]


def test_cut_link_stops_within_a_second(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    assert jump(server, link["code"], DESKTOP_CHROME).status_code == 302
    ok(market.client("tmall").patch(f"/v1/links/{link['id']}", json={"active": False}))
    started = time.monotonic()
    wait_for(lambda: jump(server, link["code"], DESKTOP_CHROME).status_code == 404, timeout=1.0)
    assert time.monotonic() - started < 1.0


def test_head_and_crawlers_are_not_billed(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    with httpx.Client(base_url=server.url) as client:
        assert client.head(f"/j/{link['code']}").status_code == 302
    jump(server, link["code"], "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit)")
    jump(server, link["code"], DESKTOP_CHROME, ip="10.3.3.3")
    jump(server, link["code"], DESKTOP_CHROME, ip="10.3.3.3")  # a duplicate within the window
    server.world.runtime.clicks.rotate()
    time.sleep(0.1)
    from hutong.worker.runner import compact_all

    compact_all(server.world.settings)
    clicks = ok(market.client("tmall").get("/v1/clicks"))
    assert len(clicks) == 3  # the HEAD was never recorded
    assert sorted((c["bot"], c["duplicate"], c["billable"]) for c in clicks) == [
        (False, False, True),
        (False, True, False),
        (True, False, False),
    ]
    dup = next(c for c in clicks if c["duplicate"])
    first = next(c for c in clicks if c["billable"])
    assert dup["click_id"] == first["click_id"]  # a duplicate attaches to the first click


def test_a_click_carrying_an_advertising_id_is_keyed_by_it(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    from hutong.privacy.hashing import KeyedHasher
    from hutong.worker.runner import compact_all

    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    filled = jump(server, link["code"], MOBILE_SAFARI, "?oaid=AB-12-CD&x=1", ip="10.7.0.1")
    assert "oaid=AB-12-CD" in filled.headers["location"]  # the shelf gets it, as sent
    jump(server, link["code"], MOBILE_SAFARI, "?oaid=__OAID__", ip="10.7.0.2")  # unfilled
    server.world.runtime.clicks.rotate()
    time.sleep(0.1)
    settings = server.world.settings
    compact_all(settings)
    rows = duckdb.sql(
        "SELECT device_key, params FROM read_parquet(?) ORDER BY ts",
        params=[str(settings.lake_dir / "clicks" / "day=*" / "*.parquet")],
    ).fetchall()
    hasher = KeyedHasher(settings.pii_key)
    assert rows[0] == (hasher.hash("device", "ab-12-cd"), "x=1")  # the id itself is not logged
    assert rows[1][0] != hasher.hash("device", "__oaid__") and len(rows[1][0]) == 32
