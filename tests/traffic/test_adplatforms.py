"""The content platforms' ad-tracking protocols, whole loop, through each platform's emulator:
monitoring call -> touchpoint -> paid order -> conversion callback, on both backends."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from hutong.store import utcnow
from hutong.traffic.adplatforms.emulator import AdEmulator
from hutong.traffic.adplatforms.models import AdClick, AdConversion
from hutong.traffic.adplatforms.registry import PLATFORMS
from hutong.worker.models import OutboxMessage
from hutong.worker.outbox import deliver_due
from tests.api.market import DESKTOP_CHROME, MOBILE_SAFARI, build_market, ok
from tests.conftest import LiveServer, running

OWNERS = {"oceanengine": "douyin", "kuaishou": "kuaishou", "bilibili": "bilibili"}
OWNERS["xiaohongshu"] = "xiaohongshu"
# what each platform's callback carries for a paid order of 1,299.00 yuan
PAID_AMOUNT = {"oceanengine": "1299.00", "kuaishou": "1299.00", "bilibili": "129900"}
PAID_AMOUNT["xiaohongshu"] = "129900"


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def market(server: LiveServer):  # type: ignore[no-untyped-def]
    built = build_market(server)
    built.platform_tenant("bilibili", "bilibili")
    built.platform_tenant("xiaohongshu", "xiaohongshu")
    yield built
    built.close()


def _emulated(name: str):  # type: ignore[no-untyped-def]
    emu = AdEmulator(PLATFORMS[name])
    return emu, running(emu.app)


def _setup(server: LiveServer, market: Any, name: str, emu_url: str, emu: AdEmulator) -> str:
    from hutong.traffic.adplatforms.emulator import PATHS

    emu.gateway_url = emu_url + PATHS[name]
    ok(market.operator.put(f"/v1/ad-platforms/{name}/gateway", json={"url": emu.gateway_url}))
    owner = OWNERS[name]
    feed = market.placement(owner, "feed")
    campaign = market.campaign("tmall", [feed], billing="cps")
    link = market.link("tmall", campaign, feed)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    return str(link["code"])


def _template(market: Any, name: str, code: str) -> str:
    listed = ok(market.client("tmall").get("/v1/ad-platforms", params={"link_code": code}))
    template = str(next(p for p in listed if p["name"] == name)["monitor_template"])
    # the template names the public URL; the test server listens on a loopback port
    return template.replace(market.server.world.settings.public_url, market.server.url)


def _tap(emu_url: str, template: str, **extra: Any) -> dict[str, Any]:
    body = {"monitor_url": template, "ip": "10.9.9.9", "ua": MOBILE_SAFARI, **extra}
    with httpx.Client(timeout=10) as client:
        return dict(ok(client.post(emu_url + "/_emulator/tap", json=body)))


def _jump_token(server: LiveServer, code: str, query: str) -> str:
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        answer = client.get(
            f"/j/{code}?{query}",
            headers={"User-Agent": DESKTOP_CHROME, "X-Forwarded-For": "10.7.7.7"},
        )
    return parse_qs(urlsplit(answer.headers["location"]).query)["ht_ct"][0]


def _deliver(server: LiveServer) -> int:
    with server.world.store.transaction() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    with httpx.Client(timeout=5) as client:
        return deliver_due(server.world.store, client)


def _report(market: Any, token: str, ref: str, at: dt.datetime) -> dict[str, Any]:
    order = {
        "click_token": token,
        "order_ref": ref,
        "amount_fen": 129_900,
        "occurred_at": at.isoformat(),
    }
    got = market.client("tmall").post("/v1/conversions", json=order)
    assert got.status_code in (200, 201), got.text
    return dict(got.json())


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_whole_loop_through_the_platforms_emulator(server: LiveServer, market, name: str) -> None:  # type: ignore[no-untyped-def]
    emu, serving = _emulated(name)
    with serving as emu_url:
        code = _setup(server, market, name, emu_url, emu)
        tap = _tap(
            emu_url, _template(market, name, code), oaid="5f0e9a3c-1b2d-4c5e-8f90-1a2b3c4d5e6f"
        )
        assert tap["status"] == 200, tap
        click_value = tap["click_value"]
        assert click_value in tap["monitor_url"]  # macros the platform has no value for stay

        # the platform repeats its call: one tap, one row, nothing recorded twice
        with httpx.Client() as client:
            again = ok(client.get(tap["monitor_url"]))
        assert again["repeat"] is True

        # the user follows the landing URL, which carries the platform's click key: the
        # jump is the same tap (from another address and browser, so only the key joins them)
        token = _jump_token(server, code, f"{tap['landing_param']}={click_value}")
        with server.world.store.reading() as session:
            rows = list(session.scalars(select(AdClick)))
        assert len(rows) == 1 and rows[0].calls == 2 and rows[0].seen_first_by == "monitor"
        claim = server.world.runtime.signer.verify(token)
        assert claim.click_id == rows[0].click_id  # the jump attached to the monitored tap

        server.world.runtime.clicks.rotate()
        time.sleep(0.1)
        from hutong.worker.runner import compact_all

        compact_all(server.world.settings)
        clicks = ok(market.client("tmall").get("/v1/clicks"))
        assert len(clicks) == 2 and sum(c["billable"] for c in clicks) == 1  # billed once
        assert {c["click_id"] for c in clicks} == {rows[0].click_id}

        paid_at = utcnow().replace(microsecond=123_000)
        _report(market, token, "TB-1111-" + name, paid_at)
        _report(market, token, "TB-1111-" + name, paid_at)  # the platform reports twice
        assert _deliver(server) == 1
        assert _deliver(server) == 0
        state = ok(httpx.get(emu_url + "/_emulator/state"))
        (got,) = state["conversions"]
        assert got["callback"] == click_value
        assert got["event"] == PLATFORMS[name].events["paid"]
        assert got["time_ms"] == int(paid_at.timestamp() * 1000)
        assert got["amount"] == PAID_AMOUNT[name] and got["repeats"] == 0
        (sent,) = ok(market.client("tmall").get("/v1/ad-conversions"))
        assert sent["state"] == "accepted" and sent["attempts"] == 1
        # the content platform sees its callbacks; another platform sees none
        assert len(ok(market.client(OWNERS[name]).get("/v1/ad-conversions"))) == 1
        other = "kuaishou" if OWNERS[name] != "kuaishou" else "douyin"
        assert ok(market.client(other).get("/v1/ad-conversions")) == []

        # the console's ad-tracking page shows the same callback, accepted, to the buyer
        form = {"content-type": "application/x-www-form-urlencoded"}
        with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
            key = market.keys["tmall"]
            assert browser.post("/console/signin", content=f"key={key}", headers=form).is_redirect
            page = browser.get("/console/ads?lang=en").text
        assert 'id="ad-conversions"' in page and "accepted" in page
        assert PLATFORMS[name].events["paid"] in page and "__" in page  # the templates' macros
    emu.close()


@pytest.mark.parametrize("name", ["oceanengine", "bilibili"])
def test_malformed_unknown_bot_and_retried_callbacks(server: LiveServer, market, name: str) -> None:  # type: ignore[no-untyped-def]
    emu, serving = _emulated(name)
    with serving as emu_url:
        code = _setup(server, market, name, emu_url, emu)
        elsewhere = {"url": "http://127.0.0.1:9/steal"}  # only the operator moves a gateway
        refused_put = market.client("tmall").put(f"/v1/ad-platforms/{name}/gateway", json=elsewhere)
        assert refused_put.status_code == 404
        with httpx.Client(base_url=server.url) as client:
            bad = client.get(f"/m/{name}/{code}")  # no click value at all
            assert bad.status_code == 400 and bad.json()["code"] == "monitor_invalid"
            unfilled = client.get(_template(market, name, code))  # macros never filled
            assert unfilled.status_code == 400
            assert client.get(f"/m/nosuch/{code}").status_code == 404
            assert client.get(f"/m/{name}/NOSUCHCODE?callback=x&track_id=x").status_code == 404
            # a call for a value the platform never issued is recorded, but the platform
            # refuses the callback for it: kept with its answer, never retried
            forged = "callback" if name == "oceanengine" else "track_id"
            made_up = ok(
                client.get(
                    f"/m/{name}/{code}", params={forged: "never-issued", "ua": MOBILE_SAFARI}
                )
            )
            # a bot's tap is recorded and flagged, and never reported back
            bot = ok(
                client.get(
                    f"/m/{name}/{code}",
                    params={forged: "bot-tap", "ua": "python-requests/2.31"},
                )
            )
        with server.world.store.reading() as session:
            flagged = session.scalar(select(AdClick).where(AdClick.click_id == bot["click_id"]))
            assert flagged is not None and flagged.bot
        signer = server.world.runtime.signer
        now = utcnow()
        for click_id, ref in ((made_up["click_id"], "TB-forged"), (bot["click_id"], "TB-bot")):
            raw = bytes.fromhex(click_id)
            # signed as a person's click: only the tap's own bot flag keeps the callback back
            _report(market, signer.sign_raw(raw, code, bot=False), ref, now)
        assert _deliver(server) == 1  # the bot's order sends nothing
        (refused,) = ok(market.client("tmall").get("/v1/ad-conversions"))
        assert refused["state"] == "refused" and "not found" in refused["answer"]
        assert _deliver(server) == 0

        # a real tap whose first callback meets a 503 is retried and lands once
        tap = _tap(emu_url, _template(market, name, code))
        token = _jump_token(server, code, f"{tap['landing_param']}={tap['click_value']}")
        ok(httpx.post(emu_url + "/_emulator/fail", json={"next": 1, "status": 503}))
        _report(market, token, "TB-retried", now)
        assert _deliver(server) == 1
        with server.world.store.reading() as session:
            row = session.scalar(select(AdConversion).where(AdConversion.order_ref == "TB-retried"))
            assert row is not None and row.state == "retrying"
        assert _deliver(server) == 1
        with server.world.store.reading() as session:
            row = session.scalar(select(AdConversion).where(AdConversion.order_ref == "TB-retried"))
            assert row is not None and row.state == "accepted" and row.attempts == 2
        state = ok(httpx.get(emu_url + "/_emulator/state"))
        assert [c["callback"] for c in state["conversions"]] == [tap["click_value"]]
    emu.close()


def test_checkout_reports_the_order_and_its_payment_in_kuaishous_codes(
    server: LiveServer, market
) -> None:  # type: ignore[no-untyped-def]
    from tests.commerce.shop import connect_sandbox, order, product, sandbox_emulator, state_of
    from tests.commerce.shop import wait_until as until

    emu, serving = _emulated("kuaishou")
    with serving as emu_url, sandbox_emulator({"tmall-1": "s3cret"}) as (_, gateway):
        connect_sandbox(market, "tmall", gateway, "tmall-1", "s3cret")
        code = _setup(server, market, "kuaishou", emu_url, emu)
        tap = _tap(emu_url, _template(market, "kuaishou", code))
        token = _jump_token(server, code, f"callback={tap['click_value']}")
        sku = product(market, "tmall", price_fen=64_950, stock=5)["skus"][0]
        created = ok(order(market, "tmall", sku["id"], 2, click_token=token), 201)
        payment = ok(
            market.client("tmall").post(
                f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
            ),
            201,
        )
        assert httpx.post(payment["pay_url"]).status_code == 200
        until(lambda: state_of(market, "tmall", created["id"]) == "paid")
        assert _deliver(server) == 2
        state = ok(httpx.get(emu_url + "/_emulator/state"))
        got = {c["event"]: c for c in state["conversions"]}
        assert set(got) == {"14", "15"}  # 订单提交, 订单支付
        assert got["14"]["amount"] == got["15"]["amount"] == "1299.00"
        assert all(c["callback"] == tap["click_value"] for c in got.values())
        assert got["14"]["time_ms"] <= got["15"]["time_ms"]
    emu.close()
