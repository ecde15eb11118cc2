"""Three-way reconciliation over HTTP: the sandbox provider's statement, hutong's records and
the selling platform's settlement report; every mismatch listed with all three sides."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx

from hutong.payments.emulators.sandbox import fee
from hutong.payments.providers.sandbox import HEADER, sign
from hutong.payments.reconcile import Side, compare
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

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_compare_lists_every_kind_of_mismatch() -> None:
    day = dt.date(2024, 11, 11)
    hutong = {"A": Side("payment", 100), "B": Side("payment", 200), "R": Side("refund", 50)}
    provider = {
        "A": Side("payment", 100, fee_fen=1),
        "B": Side("payment", 201, fee_fen=1),
        "X": Side("payment", 9, fee_fen=0),
        "R": Side("refund", 50, fee_fen=-1),
    }
    platform = {
        "A": Side("payment", 100, fee_fen=1, commission_fen=5, net_fen=94),
        "B": Side("payment", 200, fee_fen=2, commission_fen=10, net_fen=188),
        "R": Side("refund", 50, fee_fen=-1, commission_fen=-2, net_fen=-47),
    }
    result = compare(day, hutong, provider, platform)
    issues = {m["reference"]: m["issues"] for m in result.mismatches}
    assert result.matched == 2  # A, and the refund R whose split adds up
    assert issues == {
        "B": ["amount_differs", "fee_differs"],
        "X": ["missing_at_hutong", "missing_at_platform"],
    }
    assert result.totals["provider"]["payments_fen"] == 310
    bad_split = dict(platform, A=Side("payment", 100, fee_fen=1, commission_fen=5, net_fen=95))
    assert compare(day, hutong, provider, bad_split).mismatches[0]["issues"] == ["split_differs"]


def test_a_day_reconciled_three_ways(server: LiveServer) -> None:
    m = build_market(server)
    try:
        with sandbox_emulator({"tm-1": "k3y"}) as (_emu, gateway):
            connect_sandbox(m, "tmall", gateway, "tm-1", "k3y")
            sku = product(m, "tmall", price_fen=10_000, stock=5)["skus"][0]
            paid: list[dict[str, Any]] = []
            for _ in range(2):
                created = ok(order(m, "tmall", sku["id"]), 201)
                payment = ok(
                    m.client("tmall").post(
                        f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                    ),
                    201,
                )
                httpx.post(payment["pay_url"])
                wait_until(lambda c=created: state_of(m, "tmall", c["id"]) == "paid")
                paid.append(payment)
            refund = ok(
                m.client("tmall").post(
                    f"/v1/orders/{paid[0]['order_id']}/refunds", json={"amount_fen": 4_000}
                ),
                201,
            )[0]
            wait_until(lambda: state_of(m, "tmall", paid[0]["order_id"]) == "partially_refunded")
            # money the provider took that hutong never asked for (e.g. a manual charge)
            stray = json.dumps(
                {
                    "merchant_id": "tm-1",
                    "out_trade_no": "STRAY-1",
                    "amount_fen": 500,
                    "currency": "CNY",
                    "subject": "?",
                    "notify_url": "http://127.0.0.1:9",
                    "expires_at": "2099-01-01T00:00:00+00:00",
                }
            ).encode()
            httpx.post(
                f"{gateway}/v1/payments",
                content=stray,
                headers={HEADER: sign("k3y", stray, int(time.time()))},
            )
            httpx.post(f"{gateway}/_emulator/pay/STRAY-1")

            day = dt.datetime.now(SHANGHAI).date().isoformat()
            commission = 500  # the platform's 5 %
            report = [
                {
                    "reference": paid[0]["out_trade_no"],
                    "kind": "payment",
                    "amount_fen": 10_000,
                    "provider_fee_fen": fee(10_000),
                    "commission_fen": commission,
                    "net_fen": 10_000 - fee(10_000) - commission,
                },
                {
                    "reference": paid[1]["out_trade_no"],
                    "kind": "payment",
                    "amount_fen": 10_000,
                    "provider_fee_fen": fee(10_000) + 1,
                    "commission_fen": commission,
                    "net_fen": 10_000 - fee(10_000) - 1 - commission,
                },
                {
                    "reference": refund["out_refund_no"],
                    "kind": "refund",
                    "amount_fen": 4_000,
                    "provider_fee_fen": -fee(4_000),
                    "commission_fen": -200,
                    "net_fen": -4_000 + fee(4_000) + 200,
                },
            ]
            result = ok(
                m.client("tmall").post(
                    "/v1/reconciliations",
                    json={"provider": "sandbox", "day": day, "platform_report": report},
                ),
                201,
            )
            issues = {x["reference"]: x["issues"] for x in result["mismatches"]}
            assert result["matched"] == 2
            assert issues == {
                paid[1]["out_trade_no"]: ["fee_differs"],
                "STRAY-1": ["missing_at_hutong", "missing_at_platform"],
            }
            assert result["totals"]["hutong"]["payments_fen"] == 20_000
            assert result["totals"]["provider"]["payments_fen"] == 20_500
            listed = ok(m.client("tmall").get("/v1/reconciliations"))
            assert [r["id"] for r in listed] == [result["id"]]
            assert ok(m.client("jd").get("/v1/reconciliations")) == []
            two_way = ok(
                m.client("tmall").post(
                    "/v1/reconciliations", json={"provider": "sandbox", "day": day}
                ),
                201,
            )
            assert [x["reference"] for x in two_way["mismatches"]] == ["STRAY-1"]
    finally:
        m.close()
