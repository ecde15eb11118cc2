"""After-sales over HTTP: a request rejected goes back where it was; a return is restocked,
marked returned and refunded through the provider; an unpaid order has nothing to ask for."""

from __future__ import annotations

import httpx

from tests.api.market import build_market, ok
from tests.commerce.shop import (
    connect_sandbox,
    order,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer


def test_reject_then_return_and_refund(server: LiveServer) -> None:
    m = build_market(server)
    try:
        with sandbox_emulator({"tm-a": "s"}) as (_emu, gateway):
            connect_sandbox(m, "tmall", gateway, "tm-a", "s")
            sku = product(m, "tmall", price_fen=20_000, stock=3)["skus"][0]
            created = ok(order(m, "tmall", sku["id"], 2), 201)
            early = m.client("tmall").post(
                f"/v1/orders/{created['id']}/after-sales",
                json={"kind": "refund_only", "amount_fen": 100, "reason": "changed my mind"},
            )
            assert early.status_code == 409 and early.json()["code"] == "illegal_transition"
            payment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            httpx.post(payment["pay_url"])
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")

            asked = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/after-sales",
                    json={"kind": "refund_only", "amount_fen": 5_000, "reason": "late"},
                ),
                201,
            )
            assert state_of(m, "tmall", created["id"]) == "refund_requested"
            again = m.client("tmall").post(
                f"/v1/orders/{created['id']}/after-sales",
                json={"kind": "refund_only", "amount_fen": 5_000, "reason": "late"},
            )
            assert again.status_code == 409
            ok(
                m.client("tmall").post(
                    f"/v1/after-sales/{asked['id']}/reject", json={"note": "on time"}
                )
            )
            assert state_of(m, "tmall", created["id"]) == "paid"  # back where it was

            back = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/after-sales",
                    json={
                        "kind": "return_refund",
                        "amount_fen": 20_000,
                        "reason": "broken",
                        "lines": [{"sku_id": sku["id"], "quantity": 1}],
                    },
                ),
                201,
            )
            approved = ok(m.client("tmall").post(f"/v1/after-sales/{back['id']}/approve", json={}))
            assert approved["state"] == "approved"
            assert state_of(m, "tmall", created["id"]) == "refund_requested"  # awaiting the goods
            assert m.client("jd").post(f"/v1/after-sales/{back['id']}/received").status_code == 404
            ok(m.client("tmall").post(f"/v1/after-sales/{back['id']}/received"))
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "partially_refunded")
            walk = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
            assert [e["to_state"] for e in walk["events"]] == [
                "created",
                "paid",
                "refund_requested",
                "paid",
                "refund_requested",
                "returned",
                "partially_refunded",
            ]
            assert (walk["paid_fen"], walk["refunded_fen"]) == (40_000, 20_000)
            shelf = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
            assert (shelf["stock_available"], shelf["stock_sold"]) == (2, 1)  # one came back
            too_many = m.client("tmall").post(
                f"/v1/orders/{created['id']}/after-sales",
                json={
                    "kind": "return_refund",
                    "amount_fen": 1,
                    "reason": "x",
                    "lines": [{"sku_id": sku["id"], "quantity": 3}],
                },
            )
            assert too_many.status_code == 422
    finally:
        m.close()
