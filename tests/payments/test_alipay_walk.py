"""Paying with Alipay through hutong's HTTP API and the Alipay emulator, on both backends:
the notification applied once, every forged, tampered, stale or foreign one refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from hutong.payments import crypto
from hutong.payments.emulators.alipay import AlipayApp, AlipayEmulator
from hutong.payments.models import PaymentNotice
from hutong.payments.providers.alipay import local_time, sign_content
from tests.api.market import Market, build_market, ok
from tests.commerce.shop import order, product, settled_deliveries, state_of, wait_until
from tests.conftest import LiveServer, running
from tests.payments.test_alipay import APP_ID, Keys

OTHER_APP = "2021004100000002"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def shop(server: LiveServer, keys: Keys) -> Iterator[tuple[Market, AlipayEmulator, str]]:
    emu = AlipayEmulator(
        [AlipayApp(APP_ID, keys.app_public), AlipayApp(OTHER_APP, keys.app_public)],
        keys.ali_private,
        time_scale=0.001,
    )
    m = build_market(server)
    try:
        with running(emu.app) as url:
            for seller, app_id in (("tmall", APP_ID), ("shop", OTHER_APP)):
                ok(
                    m.client(seller).post(
                        "/v1/provider-accounts",
                        json={
                            "provider": "alipay",
                            "gateway_url": f"{url}/gateway.do",
                            "settings": {
                                "app_id": app_id,
                                "app_private_key": keys.app_private,
                                "alipay_public_key": keys.ali_public,
                            },
                        },
                    ),
                    201,
                )
            yield m, emu, url
    finally:
        m.close()
        emu.close()


def pay_with_alipay(
    m: Market, seller: str, price_fen: int = 19_900
) -> tuple[dict[str, Any], dict[str, Any]]:
    sku = product(m, seller, price_fen=price_fen, stock=3)["skus"][0]
    created = ok(order(m, seller, sku["id"]), 201)
    payment = ok(
        m.client(seller).post(f"/v1/orders/{created['id']}/payments", json={"provider": "alipay"}),
        201,
    )
    assert payment["state"] == "pending" and payment["pay_url"], payment
    return created, payment


def notices(server: LiveServer) -> list[tuple[str, str]]:
    with server.world.store.reading() as session:
        rows = session.scalars(select(PaymentNotice).order_by(PaymentNotice.id))
        return [(n.dedupe_key, n.outcome) for n in rows]


def test_alipay_walk_with_duplicates_and_forgeries(
    server: LiveServer, shop: tuple[Market, AlipayEmulator, str], keys: Keys
) -> None:
    m, emu, gateway = shop
    created, payment = pay_with_alipay(m, "tmall")
    secret_free = ok(m.client("tmall").get("/v1/provider-accounts"))[0]
    assert "app_private_key" not in secret_free["settings"]  # sealed, never shown

    # the notification before the buyer paid could only be forged; try the real forms first
    emu_payment = emu.ledger.pay(payment["out_trade_no"])
    fields = emu.notification(emu_payment, "notify-abc")
    notify = f"{server.url}/notify/alipay"

    def post(params: dict[str, str]) -> httpx.Response:
        return httpx.post(
            notify,
            content=urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    tampered = post({**fields, "total_amount": "1.99"})  # one field changed, signature kept
    assert tampered.status_code == 200 and tampered.text == "fail"
    raw = urlencode(fields).encode()
    flipped = raw.replace(b"trade_status=TRADE_SUCCESS", b"trade_status=TRADE_SUCCESs")
    assert httpx.post(notify, content=flipped).text == "fail"  # one byte
    stale = dict(fields, notify_time=local_time(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    stale["sign"] = crypto.rsa_sign(
        crypto.load_private(keys.ali_private),
        sign_content(stale, exclude=("sign", "sign_type")).encode(),
    )
    assert post(stale).text == "fail"  # correctly signed, but an hour old: a replay
    assert state_of(m, "tmall", created["id"]) == "created"

    # the real one, twice: applied once, acknowledged both times
    assert post(fields).text == "success"
    assert post(fields).text == "success"
    assert state_of(m, "tmall", created["id"]) == "paid"
    outcomes = notices(server)
    assert outcomes.count(("notify-abc", "applied")) == 1
    assert sum(o.startswith("refused:") for _, o in outcomes) == 3
    assert not any(k == "notify-abc" and o != "applied" for k, o in outcomes)

    # the emulator's own delivery (its retries stop at the first "success")
    emu.notify_paid(emu_payment)
    deliveries = wait_until(lambda: settled_deliveries(gateway))
    assert deliveries[-1]["attempts"] == [200]
    final = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
    assert final["paid_fen"] == 19_900 and [e["cause"] for e in final["events"]] == [
        "order_created",
        "full_paid",
    ]


def test_a_notification_for_another_apps_payment_is_refused(
    server: LiveServer, shop: tuple[Market, AlipayEmulator, str]
) -> None:
    m, emu, _ = shop
    created, payment = pay_with_alipay(m, "tmall")
    emu_payment = emu.ledger.pay(payment["out_trade_no"])
    fields = emu.notification(emu_payment, "notify-x")
    # a valid notification of the merchant's own app, rewritten to the Tmall payment
    emu_payment.merchant_key = OTHER_APP
    foreign = emu.notification(emu_payment, "notify-y")
    assert foreign["out_trade_no"] == fields["out_trade_no"]
    answer = httpx.post(f"{server.url}/notify/alipay", content=urlencode(foreign).encode())
    assert answer.text == "fail"
    assert state_of(m, "tmall", created["id"]) == "created"
    assert "refused:wrong_account" in {o for _, o in notices(server)}


def test_a_lost_notification_is_recovered_by_the_status_sync(
    server: LiveServer, shop: tuple[Market, AlipayEmulator, str]
) -> None:
    """The buyer paid but no notification ever arrives: the janitor asks Alipay."""
    from hutong.payments.service import sync_payment

    m, emu, _ = shop
    created, payment = pay_with_alipay(m, "tmall")
    emu.ledger.pay(payment["out_trade_no"])  # paid, and the emulator notifies no one
    assert sync_payment(server.world.runtime.payments, payment["id"]) == "applied"
    assert state_of(m, "tmall", created["id"]) == "paid"
    assert sync_payment(server.world.runtime.payments, payment["id"]) == "unchanged"


def test_jd_does_not_take_alipay(server: LiveServer, keys: Keys) -> None:
    m = build_market(server)
    try:
        sku = product(m, "jd", stock=2)["skus"][0]
        created = ok(order(m, "jd", sku["id"]), 201)
        answer = m.client("jd").post(
            f"/v1/orders/{created['id']}/payments", json={"provider": "alipay"}
        )
        assert answer.status_code == 422
        assert answer.json()["code"] == "not_accepted_by_platform"
        accepts = ok(
            m.client("jd").get(
                "/v1/interop/accepts",
                params={"platform_id": "taobao", "at": "2024-09-26T12:00:00+08:00"},
            )
        )
        assert "wechatpay" not in accepts["payment"] and "jd" not in accepts["carrier"]
        later = ok(
            m.client("jd").get(
                "/v1/interop/accepts",
                params={"platform_id": "taobao", "at": "2024-10-16T09:00:00+08:00"},
            )
        )
        assert "wechatpay" in later["payment"] and "jd" in later["carrier"]
    finally:
        m.close()
