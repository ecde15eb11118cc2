"""Orders over HTTP on both backends: click → order → pay (sandbox provider) → conversion,
refunds, the state machine's refusals, idempotent creates and the order's history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hutong.commerce.models import Sku
from hutong.traffic.models import Conversion
from tests.api.market import MOBILE_SAFARI, Market, build_market, ok
from tests.api.test_jump_flow import jump, wait_for
from tests.commerce.shop import (
    connect_sandbox,
    order,
    product,
    sandbox_emulator,
    settled_deliveries,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer


@pytest.fixture
def market(server: LiveServer):  # type: ignore[no-untyped-def]
    built = build_market(server)
    try:
        yield built
    finally:
        built.close()


def click_token(server: LiveServer, m: Market) -> str:
    splash = m.placement("douyin", "splash")
    campaign = m.campaign("tmall", [splash], billing="cps")
    link = m.link("tmall", campaign, splash)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    answer = jump(server, link["code"], MOBILE_SAFARI)
    assert answer.status_code == 302
    location = httpx.URL(answer.headers["location"])
    return str(location.params["ht_ct"])


def test_click_order_pay_convert_refund(server: LiveServer, market: Market) -> None:
    m = market
    with sandbox_emulator({"tmall-shop-1": "s3cret-tmall"}) as (_emulator, gateway):
        connect_sandbox(m, "tmall", gateway, "tmall-shop-1", "s3cret-tmall")
        sku = product(m, "tmall", price_fen=19_900, stock=5)["skus"][0]
        token = click_token(server, m)
        created = ok(order(m, "tmall", sku["id"], 2, click_token=token), 201)
        assert created["state"] == "created" and created["total_fen"] == 39_800
        assert created["organic"] is False and created["click_id"]
        assert created["ship_to"]["phone"] == "138****5678"  # personal data masked
        stock = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
        assert (stock["stock_available"], stock["stock_reserved"]) == (3, 2)

        payment = ok(
            m.client("tmall").post(
                f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
            ),
            201,
        )
        assert payment["state"] == "pending" and payment["amount_fen"] == 39_800
        # the buyer pays at the provider; its signed notification makes the order paid
        assert httpx.post(payment["pay_url"]).status_code == 200
        wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
        stock = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
        assert (stock["stock_available"], stock["stock_reserved"], stock["stock_sold"]) == (3, 0, 2)

        # the paid order converted, credited to its click, for the content platform to see
        with server.world.store.reading() as session:
            conversion = session.scalar(
                select(Conversion).where(Conversion.order_ref == created["id"])
            )
            assert conversion is not None and conversion.credited
            assert conversion.click_id == created["click_id"]
            assert conversion.amount_fen == 39_800
        seen = ok(m.client("douyin").get("/v1/conversions"))
        assert [c["order_ref"] for c in seen] == [created["id"]]

        # a partial refund, then the rest: the money always adds up
        refunds = ok(
            m.client("tmall").post(
                f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 10_000, "reason": "dent"}
            ),
            201,
        )
        assert [r["amount_fen"] for r in refunds] == [10_000]
        wait_until(lambda: state_of(m, "tmall", created["id"]) == "partially_refunded")
        too_much = m.client("tmall").post(
            f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 29_801}
        )
        assert too_much.status_code == 409 and too_much.json()["code"] == "refund_exceeds_paid"
        ok(
            m.client("tmall").post(
                f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 29_800}
            ),
            201,
        )
        wait_until(lambda: state_of(m, "tmall", created["id"]) == "refunded")
        final = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
        assert (final["paid_fen"], final["refunded_fen"]) == (39_800, 39_800)
        causes = [e["cause"] for e in final["events"]]
        assert causes == ["order_created", "full_paid", "refund_succeeded", "refund_succeeded"]
        assert [e["to_state"] for e in final["events"]] == [
            "created",
            "paid",
            "partially_refunded",
            "refunded",
        ]
        # the provider's retries stopped at the first acknowledgement
        deliveries = wait_until(lambda: settled_deliveries(gateway))
        assert len(deliveries) == 3 and all(d["attempts"] == [200] for d in deliveries)
        # the payment's notification again, after the refunds: acknowledged, nothing changes
        httpx.post(f"{gateway}/_emulator/renotify/{payment['out_trade_no']}")
        deliveries = wait_until(lambda: (d := settled_deliveries(gateway)) and len(d) == 4 and d)
        assert deliveries[-1]["attempts"] == [200]
        assert ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))["state"] == "refunded"
        notices = ok(m.client("tmall").get(f"/v1/payments/{payment['id']}/notices"))
        # the payment's notice applied; the refunds were settled by the provider's synchronous
        # answer, so their notices changed nothing; the repeated one was a duplicate (no row)
        assert [(n["kind"], n["outcome"]) for n in notices] == [
            ("payment", "applied"),
            ("refund", "unchanged"),
            ("refund", "unchanged"),
        ]


def test_illegal_transitions_are_409_and_change_nothing(market: Market) -> None:
    m = market
    sku = product(m, "tmall", stock=3)["skus"][0]
    created = ok(order(m, "tmall", sku["id"]), 201)
    answer = m.client("tmall").post(f"/v1/orders/{created['id']}/confirm-receipt")
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "illegal_transition"
    assert "created cannot become completed" in problem["detail"]
    cancelled = ok(m.client("tmall").post(f"/v1/orders/{created['id']}/cancel", json={}))
    assert cancelled["state"] == "cancelled"
    again = m.client("tmall").post(f"/v1/orders/{created['id']}/cancel", json={})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    after = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
    assert [e["to_state"] for e in after["events"]] == ["created", "cancelled"]
    stock = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
    assert (stock["stock_available"], stock["stock_reserved"]) == (3, 0)  # released once


def test_a_retried_create_returns_the_first_order(server: LiveServer, market: Market) -> None:
    m = market
    sku = product(m, "tmall", stock=10)["skus"][0]
    body: dict[str, Any] = {
        "lines": [{"sku_id": sku["id"], "quantity": 3}],
        "buyer_ref": "buyer-1",
        "ship_to": {
            "name": "李四",
            "phone": "13900001111",
            "province": "广东省",
            "city": "深圳市",
            "address": "科技园",
        },
    }
    headers = {"Idempotency-Key": "order-2024-11-11-0001"}
    first = m.client("tmall").post("/v1/orders", json=body, headers=headers)
    second = m.client("tmall").post("/v1/orders", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = m.client("tmall").post(
        "/v1/orders", json={**body, "buyer_ref": "buyer-2"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    with server.world.store.reading() as session:
        reserved = session.scalar(select(Sku.stock_reserved).where(Sku.id == sku["id"]))
    assert reserved == 3  # one order's worth, not two


def test_bad_orders_are_refused_with_clear_errors(market: Market) -> None:
    m = market
    sku = product(m, "tmall", stock=1)["skus"][0]
    too_many = order(m, "tmall", sku["id"], 2)
    assert too_many.status_code == 409 and too_many.json()["code"] == "insufficient_stock"
    forged = order(m, "tmall", sku["id"], 1, click_token="ct1.k1.AAAAAAAAAAAAAAAA.BBBBBBBB")
    assert forged.status_code == 422 and forged.json()["code"] == "invalid_click_token"
    foreign = order(m, "shop", sku["id"])  # a merchant cannot sell Tmall's own SKU
    assert foreign.status_code == 404 and foreign.json()["code"] == "sku_not_found"
    strict = m.client("tmall").post(
        "/v1/orders",
        json={
            "lines": [{"sku_id": sku["id"], "quantity": True}],
            "buyer_ref": "b",
            "ship_to": {},
        },
    )
    assert strict.status_code == 422 and strict.json()["code"] == "validation_failed"
    streamer = order(m, "streamer", sku["id"])
    assert streamer.status_code == 403
    with m.server.world.store.reading() as session:
        assert session.scalar(select(func.count()).select_from(Conversion)) == 0
