"""The open-redirect corpus against the live server: nothing escapes the registered targets."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import httpx
from ada_url import URL

from hutong.traffic.urls import host_matches
from tests.api.market import DESKTOP_CHROME, build_market
from tests.api.test_jump_flow import wait_for
from tests.conftest import LiveServer
from tests.traffic.corpus import open_redirect_payloads

REGISTERED = ("taobao.com", "tmall.com", "tb.cn", "tmall.hk", "alimama.com")
PARAM_NAMES = ("url", "redirect", "next", "to", "h5Url", "utm_content", "spm", "ht_ct")


def _assert_stays(response: httpx.Response, request_url: str) -> None:
    if response.status_code in (301, 302, 303, 307, 308):
        target = URL(response.headers["location"], base=request_url)
        assert host_matches(target.hostname, REGISTERED), response.headers["location"]
    else:
        assert "location" not in response.headers


def test_corpus_never_escapes_through_the_jump(server: LiveServer) -> None:
    market = build_market(server)
    try:
        splash = market.placement("douyin", "splash")
        campaign = market.campaign("tmall", [splash])
        link = market.link("tmall", campaign, splash)
        code = link["code"]
        wait_for(lambda: code in server.world.runtime.cache.links)
        tmall = market.client("tmall")
        payloads = open_redirect_payloads()
        with httpx.Client(
            base_url=server.url, follow_redirects=False, headers={"User-Agent": DESKTOP_CHROME}
        ) as client:
            for i, payload in enumerate(payloads):
                query = "&".join(f"{name}={quote(payload, safe='')}" for name in PARAM_NAMES)
                url = f"/j/{code}?{query}"
                _assert_stays(
                    client.get(url, headers={"X-Forwarded-For": f"10.8.{i % 250}.1"}),
                    server.url + url,
                )
                raw = f"/j/{code}?next={payload}"  # unencoded, as an attacker would send it
                with contextlib.suppress(httpx.InvalidURL):
                    _assert_stays(client.get(raw), server.url + raw)
                if payload.startswith("/"):
                    suffix = f"/j/{code}{payload}"
                    with contextlib.suppress(httpx.InvalidURL):
                        _assert_stays(client.get(suffix), server.url + suffix)
                created = tmall.post(
                    "/v1/links",
                    json={
                        "campaign_id": campaign,
                        "placement_id": splash,
                        "target_kind": "activity",
                        "web_url": payload,
                    },
                )
                if created.status_code == 201:
                    assert host_matches(URL(created.json()["web_url"]).hostname, REGISTERED)
                else:
                    assert created.status_code == 422, created.text
                    assert created.json()["code"] in ("invalid_target", "validation_failed")
    finally:
        market.close()
