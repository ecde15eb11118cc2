"""Conversions reported against click tokens, and the signed postbacks they cause."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from hutong.store import utcnow
from hutong.worker.models import OutboxMessage
from hutong.worker.outbox import deliver_due
from tests.api.market import DESKTOP_CHROME, build_market, ok
from tests.api.receiver import Receiver
from tests.api.test_jump_flow import jump, wait_for
from tests.conftest import LiveServer


@pytest.fixture
def market(server: LiveServer):  # type: ignore[no-untyped-def]
    built = build_market(server)
    yield built
    built.close()


def _token(server: LiveServer, code: str, ua: str = DESKTOP_CHROME, ip: str = "10.5.5.5") -> str:
    location = jump(server, code, ua, ip=ip).headers["location"]
    return parse_qs(urlsplit(location).query)["ht_ct"][0]


def _due_now(server: LiveServer) -> None:
    with server.world.store.transaction() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))


def test_conversion_postback_is_signed_retried_and_applied_once(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver().start()
    try:
        endpoint = ok(
            market.client("douyin").post("/v1/postback-endpoints", json={"url": receiver.url}), 201
        )
        receiver.keys[endpoint["key_ids"][0]] = endpoint["secret"]
        splash = market.placement("douyin", "splash")
        campaign = market.campaign("tmall", [splash], billing="cps")
        link = market.link("tmall", campaign, splash)
        wait_for(lambda: link["code"] in server.world.runtime.cache.links)
        token = _token(server, link["code"])

        order = {
            "click_token": token,
            "order_ref": "TB-2024-1111-0001",
            "amount_fen": 129_900,
            "occurred_at": "2030-01-01T00:00:00+08:00",
            "buyer_ref": "13800138000",
        }
        order["occurred_at"] = utcnow().isoformat()
        first = ok(market.client("tmall").post("/v1/conversions", json=order), 201)
        again = ok(market.client("tmall").post("/v1/conversions", json=order), 200)
        assert again["id"] == first["id"] and first["credited"] is True
        assert first["buyer_hash"] and "13800138000" not in first["buyer_hash"]

        receiver.fail_next = 1  # the first delivery meets a 503, the retry goes through
        client = httpx.Client(timeout=5)
        assert deliver_due(server.world.store, client) == 1
        assert receiver.accepted == []
        assert deliver_due(server.world.store, client) == 0  # backing off, not due yet
        _due_now(server)
        assert deliver_due(server.world.store, client) == 1
        client.close()
        assert len(receiver.accepted) == 1 and receiver.rejected == []
        body = receiver.accepted[0]
        assert body["amount_fen"] == 129_900 and body["link_code"] == link["code"]
        assert "buyer" not in str(body)
        with server.world.store.reading() as session:
            msg = session.scalar(select(OutboxMessage))
            assert msg is not None and msg.status == "delivered" and msg.attempts == 2

        # the content platform sees the conversion, but never the buyer's hash
        seen = ok(market.client("douyin").get("/v1/conversions"))
        assert [c["id"] for c in seen] == [first["id"]] and seen[0]["buyer_hash"] is None
        assert ok(market.client("kuaishou").get("/v1/conversions")) == []
    finally:
        receiver.stop()


def test_rotated_key_signs_and_old_key_still_listed(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver().start()
    try:
        endpoint = ok(
            market.client("douyin").post("/v1/postback-endpoints", json={"url": receiver.url}), 201
        )
        rotated = ok(
            market.client("douyin").post(f"/v1/postback-endpoints/{endpoint['id']}/rotate")
        )
        assert rotated["key_ids"] == [rotated["key_ids"][0], endpoint["key_ids"][0]]
        receiver.keys[endpoint["key_ids"][0]] = endpoint["secret"]  # only the old key known
        splash = market.placement("douyin", "splash")
        campaign = market.campaign("tmall", [splash])
        link = market.link("tmall", campaign, splash)
        wait_for(lambda: link["code"] in server.world.runtime.cache.links)
        ok(
            market.client("tmall").post(
                "/v1/conversions",
                json={
                    "click_token": _token(server, link["code"]),
                    "order_ref": "o-1",
                    "amount_fen": 100,
                    "occurred_at": utcnow().isoformat(),
                },
            ),
            201,
        )
        with httpx.Client() as client:
            deliver_due(server.world.store, client)
        assert receiver.accepted == [] and "unknown key id" in receiver.rejected[0]
        receiver.keys[rotated["key_ids"][0]] = rotated["secret"]
        _due_now(server)
        with httpx.Client() as client:
            deliver_due(server.world.store, client)
        assert len(receiver.accepted) == 1
    finally:
        receiver.stop()


def test_bot_and_forged_tokens_are_not_credited(server: LiveServer, market) -> None:  # type: ignore[no-untyped-def]
    splash = market.placement("douyin", "splash")
    campaign = market.campaign("tmall", [splash])
    link = market.link("tmall", campaign, splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    bot_token = _token(server, link["code"], ua="curl/8.5.0")
    now = utcnow().isoformat()
    bot = ok(
        market.client("tmall").post(
            "/v1/conversions",
            json={
                "click_token": bot_token,
                "order_ref": "bot-1",
                "amount_fen": 100,
                "occurred_at": now,
            },
        ),
        201,
    )
    assert bot["credited"] is False
    forged = bot_token[:-2] + ("AA" if not bot_token.endswith("AA") else "BB")
    answer = market.client("tmall").post(
        "/v1/conversions",
        json={"click_token": forged, "order_ref": "f-1", "amount_fen": 100, "occurred_at": now},
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_click_token"
    # JD cannot claim Tmall's click: the link is not one of its campaigns
    other = market.client("jd").post(
        "/v1/conversions",
        json={
            "click_token": _token(server, link["code"], ip="10.7.7.7"),
            "order_ref": "x",
            "amount_fen": 1,
            "occurred_at": now,
        },
    )
    assert other.status_code == 404
    with server.world.store.reading() as session:
        assert session.scalar(select(OutboxMessage)) is None
