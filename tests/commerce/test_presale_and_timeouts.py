"""Double 11 presale (deposit, then the final payment in its window) and the worker's timeouts:
unpaid orders and missed final payments release their stock; money that arrives too late is
given back."""

from __future__ import annotations

import datetime as dt
import time

import httpx
from sqlalchemy import select

from hutong.commerce.orders import expire_unpaid
from hutong.payments.models import Payment, Refund
from hutong.payments.service import sync_due
from hutong.traffic.models import Conversion
from tests.api.market import build_market, ok
from tests.commerce.shop import (
    connect_sandbox,
    order,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.commerce.test_order_walk import click_token
from tests.conftest import LiveServer


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def test_presale_deposit_then_final_payment_converts_at_the_final(server: LiveServer) -> None:
    m = build_market(server)
    try:
        with sandbox_emulator({"tm-p": "s"}) as (_emu, gateway):
            connect_sandbox(m, "tmall", gateway, "tm-p", "s")
            opens = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
            sku = product(
                m,
                "tmall",
                price_fen=100_000,
                stock=2,
                presale={
                    "deposit_fen": 10_000,
                    "final_starts_at": iso(opens),
                    "final_ends_at": iso(opens + dt.timedelta(hours=1)),
                },
            )["skus"][0]
            token = click_token(server, m)
            created = ok(order(m, "tmall", sku["id"], click_token=token), 201)
            assert created["presale"] and created["deposit_fen"] == 10_000
            deposit = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            assert (deposit["phase"], deposit["amount_fen"]) == ("deposit", 10_000)
            httpx.post(deposit["pay_url"])
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "deposit_paid")
            early = m.client("tmall").post(
                f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
            )
            assert early.status_code == 409 and early.json()["code"] == "outside_payment_window"
            with server.world.store.reading() as session:  # no conversion at the deposit
                assert session.scalar(select(Conversion.id)) is None
            time.sleep(max(0.0, (opens - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
            final = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            assert (final["phase"], final["amount_fen"]) == ("final", 90_000)
            httpx.post(final["pay_url"])
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
            done = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
            assert done["paid_fen"] == 100_000
            assert [e["cause"] for e in done["events"]] == [
                "order_created",
                "deposit_paid",
                "final_paid",
            ]
            with server.world.store.reading() as session:
                conversion = session.scalar(select(Conversion))
                assert conversion is not None and conversion.amount_fen == 100_000
    finally:
        m.close()


def test_unpaid_orders_and_missed_final_payments_release_stock(server: LiveServer) -> None:
    m = build_market(server)
    try:
        with sandbox_emulator({"tm-t": "s"}) as (_emu, gateway):
            connect_sandbox(m, "tmall", gateway, "tm-t", "s")
            opens = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            presale_sku = product(
                m,
                "tmall",
                price_fen=50_000,
                stock=1,
                presale={
                    "deposit_fen": 5_000,
                    "final_starts_at": iso(opens),
                    "final_ends_at": iso(opens + dt.timedelta(hours=2)),
                },
            )["skus"][0]
            plain_sku = product(m, "tmall", price_fen=9_900, stock=1)["skus"][0]
            booked = ok(order(m, "tmall", presale_sku["id"]), 201)
            deposit = ok(
                m.client("tmall").post(
                    f"/v1/orders/{booked['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            httpx.post(deposit["pay_url"])
            wait_until(lambda: state_of(m, "tmall", booked["id"]) == "deposit_paid")
            unpaid = ok(order(m, "tmall", plain_sku["id"]), 201)
            late = ok(
                m.client("tmall").post(
                    f"/v1/orders/{unpaid['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )

            # the worker's job, an hour after the payment deadline and past the final window
            with server.world.store.transaction() as session:
                assert expire_unpaid(session, dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)) == 2
            assert state_of(m, "tmall", unpaid["id"]) == "cancelled"
            missed = ok(m.client("tmall").get(f"/v1/orders/{booked['id']}"))
            assert missed["state"] == "cancelled"
            assert missed["events"][-1]["cause"] == "final_payment_missed"
            assert missed["events"][-1]["detail"]["deposit_rule"] == "forfeit"  # Taobao's rule
            for sku in (presale_sku, plain_sku):
                after = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
                assert (after["stock_available"], after["stock_reserved"]) == (1, 0)

            # the buyer pays the cancelled order anyway: the money goes back, the order stays
            httpx.post(late["pay_url"])

            def refunded() -> bool:
                sync_due(server.world.runtime.payments)
                with server.world.store.reading() as session:
                    row = session.scalar(
                        select(Refund)
                        .join(Payment, Payment.id == Refund.payment_id)
                        .where(Payment.id == late["id"])
                    )
                    return row is not None and row.state == "succeeded"

            wait_until(refunded)
            gone = ok(m.client("tmall").get(f"/v1/orders/{unpaid['id']}"))
            assert (gone["state"], gone["paid_fen"], gone["refunded_fen"]) == ("cancelled", 0, 0)
            payment = ok(m.client("tmall").get(f"/v1/payments/{late['id']}"))
            assert (payment["state"], payment["applied"], payment["refunded_fen"]) == (
                "succeeded",
                False,
                9_900,
            )
    finally:
        m.close()
