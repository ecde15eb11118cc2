"""A payment provider that answers slowly, wrongly or not at all: starting a payment never
fails the request with a 5xx or hangs past the client's timeout; the failed attempt is kept
with its error, and paying again once the provider behaves completes the same attempt. And
money that arrives too late, for an order already cancelled, is given back."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from hutong.payments.providers.sandbox import HEADER, sign
from hutong.payments.service import sync_due
from tests.api.market import Market, build_market, ok
from tests.commerce.shop import (
    connect_sandbox,
    order,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer, running


class Misbehaving:
    """A stand-in for the sandbox provider's gateway whose behaviour the test switches."""

    def __init__(self) -> None:
        self.mode = "hang"
        self.calls = 0
        self.released = threading.Event()
        self.app = FastAPI()
        self.app.post("/v1/payments")(self.create)

    async def create(self, request: Request) -> Response:
        self.calls += 1
        body = await request.json()
        if self.mode == "hang":  # accepts the connection, never answers (until the test ends)
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return Response(status_code=504)
        if self.mode == "garbage":
            return PlainTextResponse("<html>gateway maintenance</html>", status_code=200)
        if self.mode == "missing":
            return JSONResponse({"ok": True})
        if self.mode == "slow":
            await asyncio.sleep(0.5)
        return JSONResponse(
            {
                "txn_id": "T-" + body["out_trade_no"],
                "pay_url": "http://pay.test/" + body["out_trade_no"],
            }
        )


@pytest.fixture
def shop(server: LiveServer) -> Iterator[tuple[Market, Misbehaving]]:
    gateway = Misbehaving()
    payments = server.world.runtime.payments
    original = payments.client
    payments.client = httpx.Client(timeout=httpx.Timeout(1.0, connect=1.0))  # a short wait
    m = build_market(server)
    try:
        with running(gateway.app) as url:
            connect_sandbox(m, "tmall", url, "M-FAULTS", "faults-secret-" + "f" * 16)
            yield m, gateway
            gateway.released.set()
    finally:
        m.close()
        payments.client.close()
        payments.client = original


def test_a_provider_hanging_answering_garbage_or_missing_fields_never_breaks_the_api(
    shop: tuple[Market, Misbehaving],
) -> None:
    m, gateway = shop
    sku = product(m, "tmall", stock=5)["skus"][0]["id"]
    created = ok(order(m, "tmall", sku), 201)
    pay = f"/v1/orders/{created['id']}/payments"
    attempts = []
    for mode, why in (("hang", "Timeout"), ("garbage", "malformed"), ("missing", "malformed")):
        gateway.mode = mode
        answer = m.client("tmall").post(pay, json={"provider": "sandbox"})
        assert answer.status_code == 201, (mode, answer.status_code, answer.text)
        payment = answer.json()
        assert payment["state"] == "created" and payment["pay_url"] == "", mode
        assert why in payment["error"], (mode, payment["error"])  # kept and shown
        attempts.append(payment["id"])
    gateway.mode = "slow"  # slow but within the timeout: it works
    done = ok(m.client("tmall").post(pay, json={"provider": "sandbox"}), 201)
    assert done["state"] == "pending" and done["pay_url"].startswith("http://pay.test/")
    assert len({*attempts, done["id"]}) == 1  # one attempt, completed, not four
    listed = ok(m.client("tmall").get(pay))
    assert len(listed) == 1
    assert gateway.calls == 4


def test_money_arriving_for_a_cancelled_order_is_given_back(server: LiveServer) -> None:
    """A late notification: the buyer pays after the seller cancelled. hutong keeps nothing
    it cannot sell: the payment is refunded through the provider, the order stays cancelled,
    the stock stays released."""
    m = build_market(server)
    secret = "late-secret-" + "l" * 16
    try:
        with sandbox_emulator({"M-LATE": secret}) as (_, gateway):
            connect_sandbox(m, "tmall", gateway, "M-LATE", secret)
            sku = product(m, "tmall", price_fen=5_000, stock=2)["skus"][0]["id"]
            created = ok(order(m, "tmall", sku), 201)
            pay = f"/v1/orders/{created['id']}/payments"
            payment = ok(m.client("tmall").post(pay, json={"provider": "sandbox"}), 201)
            ok(m.client("tmall").post(f"/v1/orders/{created['id']}/cancel", json={}))
            assert httpx.post(payment["pay_url"]).status_code == 200  # paid anyway, too late

            def given_back() -> bool:
                sync_due(server.world.runtime.payments)  # the worker's job, run here
                seen = ok(m.client("tmall").get(f"/v1/payments/{payment['id']}"))
                return bool(seen["refunded_fen"] == 5_000 and not seen["applied"])

            wait_until(given_back, timeout=20)
            final = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
            assert final["state"] == "cancelled" and final["paid_fen"] == 0
            stock = ok(m.client("tmall").get(f"/v1/skus/{sku}"))
            assert (stock["stock_available"], stock["stock_sold"]) == (2, 0)
    finally:
        m.close()


def _notice(
    secret: str, merchant: str, payment: dict[str, object], kind: str, **extra: object
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": "evt_" + secrets.token_hex(6),
            "type": kind,
            "merchant_id": merchant,
            "out_trade_no": payment["out_trade_no"],
            "amount_fen": payment["amount_fen"],
            "currency": "CNY",
            "txn_id": payment["provider_txn_id"],
            "created": int(time.time()),
            **extra,
        }
    ).encode()
    return body, {HEADER: sign(secret, body, int(time.time())), "Content-Type": "application/json"}


def test_notifications_out_of_order_never_move_money_backwards(server: LiveServer) -> None:
    """After the payment succeeded, its older news (pending, closed) arrives; a refund's news
    arrives for a refund nobody asked for, and a refund's "processing" after its "succeeded".
    Every one is answered, none undoes what a later one did, and the unknown refund is refused."""
    m = build_market(server)
    secret, merchant = "order-secret-" + "o" * 16, "M-ORDER"
    try:
        with sandbox_emulator({merchant: secret}) as (_, gateway):
            connect_sandbox(m, "tmall", gateway, merchant, secret)
            sku = product(m, "tmall", price_fen=8_000, stock=3)["skus"][0]["id"]
            created = ok(order(m, "tmall", sku), 201)
            payment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            assert httpx.post(payment["pay_url"]).status_code == 200
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
            payment = ok(m.client("tmall").get(f"/v1/payments/{payment['id']}"))
            url = f"{server.url}/notify/sandbox"
            for late in ("payment.pending", "payment.closed", "payment.failed"):
                body, headers = _notice(secret, merchant, payment, late)
                assert httpx.post(url, content=body, headers=headers).status_code == 200, late
            body, headers = _notice(
                secret, merchant, payment, "refund.succeeded", out_refund_no="R-NOBODY"
            )
            assert httpx.post(url, content=body, headers=headers).status_code >= 400
            still = ok(m.client("tmall").get(f"/v1/payments/{payment['id']}"))
            assert still["state"] == "succeeded" and still["applied"]
            assert state_of(m, "tmall", created["id"]) == "paid"

            ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 8_000}
                ),
                201,
            )
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "refunded")
            refunds = ok(m.client("tmall").get(f"/v1/orders/{created['id']}/refunds"))
            body, headers = _notice(
                secret,
                merchant,
                payment,
                "refund.processing",
                out_refund_no=refunds[0]["out_refund_no"],
                amount_fen=8_000,
            )
            assert httpx.post(url, content=body, headers=headers).status_code == 200
            final = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
            assert final["state"] == "refunded" and final["refunded_fen"] == 8_000
            # money back is not goods back: the unit stays sold until a return restocks it
            assert ok(m.client("tmall").get(f"/v1/skus/{sku}"))["stock_sold"] == 1
    finally:
        m.close()
