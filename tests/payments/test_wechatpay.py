"""WeChat Pay APIv3, proven against wechatpayv3 as the other party, and through hutong: Taobao
takes WeChat Pay (from 2024-09-27), signed and encrypted notifications applied exactly once."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3 import utils as sdk_utils

from hutong.payments import crypto
from hutong.payments.emulators.wechatpay import WechatMerchant, WechatPayEmulator
from hutong.payments.protocol import Account, NoticeRefused, PayRequest, RefundCall
from hutong.payments.providers import wechatpay
from hutong.payments.providers.wechatpay import PROVIDER, authorization, response_message
from tests.api.market import Market, build_market, ok
from tests.commerce.shop import order, product, settled_deliveries, state_of, wait_until
from tests.conftest import LiveServer, running

MCHID, APPID, SERIAL = "1900000109", "wxd678efh567hg6787", "5157F09EFDC096DE15EBE81A47057A72"
KEY_ID = "PUB_KEY_ID_0119000001092024112700000000"


class Keys:
    def __init__(self) -> None:
        merchant, platform = crypto.new_rsa_key(), crypto.new_rsa_key()
        self.merchant_private = crypto.private_pem(merchant)
        self.merchant_public = crypto.public_pem(merchant)
        self.platform_private = crypto.private_pem(platform)
        self.platform_public = crypto.public_pem(platform)
        self.apiv3 = secrets.token_hex(16)  # 32 ASCII characters


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def merchant(keys: Keys) -> WechatMerchant:
    return WechatMerchant(MCHID, APPID, SERIAL, keys.merchant_public, keys.apiv3)


@pytest.fixture
def emulator(keys: Keys) -> Iterator[tuple[WechatPayEmulator, str]]:
    emu = WechatPayEmulator([merchant(keys)], keys.platform_private, KEY_ID, time_scale=0.001)
    try:
        with running(emu.app) as url:
            yield emu, url
    finally:
        emu.close()


def settings(keys: Keys) -> dict[str, str]:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "merchant_serial_no": SERIAL,
        "merchant_private_key": keys.merchant_private,
        "platform_public_key": keys.platform_public,
        "platform_public_key_id": KEY_ID,
        "apiv3_key": keys.apiv3,
    }


def account(keys: Keys, gateway: str = "http://127.0.0.1:9") -> Account:
    s = settings(keys)
    return Account("pac_wx", "wechatpay", MCHID, s, gateway, "http://hutong.test/notify/wechatpay")


def sdk(keys: Keys, gateway: str) -> WeChatPay:
    """The merchant's SDK in public-key mode (no certificate download), at the emulator."""
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=MCHID,
        private_key=keys.merchant_private,
        cert_serial_no=SERIAL,
        appid=APPID,
        apiv3_key=keys.apiv3,
        notify_url="http://hutong.test/notify/wechatpay/" + MCHID,
        public_key=keys.platform_public,
        public_key_id=KEY_ID,
    )
    client._core._gate_way = gateway
    return client


def test_our_authorization_is_the_sdks_byte_for_byte(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"out_trade_no": "HT1", "amount": {"total": 100}})
    monkeypatch.setattr(sdk_utils.time, "time", lambda: 1_731_254_400)
    theirs = sdk_utils.build_authorization(
        "/v3/pay/transactions/native",
        "POST",
        MCHID,
        SERIAL,
        sdk_utils.load_private_key(keys.merchant_private),
        data=body,
        nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    ours = authorization(
        MCHID,
        SERIAL,
        keys.merchant_private,
        "POST",
        "/v3/pay/transactions/native",
        body,
        timestamp="1731254400",
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    assert ours == theirs


def test_the_sdk_talks_to_the_emulator_and_verifies_every_answer(
    keys: Keys, emulator: tuple[WechatPayEmulator, str]
) -> None:
    emu, url = emulator
    client = sdk(keys, url)
    code, text = client.pay(
        description="双11礼盒", out_trade_no="HT00000000000000000000W001", amount={"total": 19_900}
    )
    assert code == 200 and json.loads(text)["code_url"].endswith("HT00000000000000000000W001")
    code, text = client.query(out_trade_no="HT00000000000000000000W001")
    assert code == 200 and json.loads(text)["trade_state"] == "NOTPAY"
    emu.ledger.pay("HT00000000000000000000W001")
    code, text = client.query(out_trade_no="HT00000000000000000000W001")
    assert json.loads(text)["trade_state"] == "SUCCESS"
    code, text = client.refund(
        out_refund_no="HTR0000000000000000000W01",
        amount={"refund": 5_000, "total": 19_900, "currency": "CNY"},
        out_trade_no="HT00000000000000000000W001",
    )
    assert code == 200 and json.loads(text)["status"] == "PROCESSING"  # as WeChat answers
    code, text = client.query_refund(out_refund_no="HTR0000000000000000000W01")
    assert json.loads(text)["status"] == "SUCCESS" and json.loads(text)["amount"]["refund"] == 5_000
    code, _ = client.query(out_trade_no="HT-NOT-THERE")
    assert code == 404
    # a forged request (another key) is refused by the emulator
    stranger = sdk(Keys(), url)
    stranger._core._public_key = client._core._public_key
    code, text = stranger.query(out_trade_no="HT00000000000000000000W001")
    assert code == 401 and json.loads(text)["code"] == "SIGN_ERROR"


def test_the_sdk_accepts_the_emulators_notifications_and_our_adapter_reads_them(
    keys: Keys, emulator: tuple[WechatPayEmulator, str]
) -> None:
    emu, url = emulator
    sdk(keys, url).pay(
        description="box", out_trade_no="HT00000000000000000000W002", amount={"total": 8_880}
    )
    payment = emu.ledger.pay("HT00000000000000000000W002")
    headers, body = emu.notification(
        merchant(keys), "EV-1", "TRANSACTION.SUCCESS", "transaction", emu.transaction(payment)
    )
    decrypted = sdk(keys, url).callback(headers, body)
    assert decrypted is not None
    assert decrypted["resource"]["out_trade_no"] == "HT00000000000000000000W002"
    # deterministic signatures: the emulator's equals the SDK's over the same message
    message = response_message(
        headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body.decode()
    )
    assert headers["Wechatpay-Signature"] == sdk_utils.rsa_sign(
        sdk_utils.load_private_key(keys.platform_private), message.decode()
    )
    acct = account(keys)
    notice = PROVIDER.read_notice(headers, body, lambda key: acct if key == MCHID else None, MCHID)
    assert (notice.kind, notice.status, notice.amount_fen, notice.dedupe_key) == (
        "payment",
        "succeeded",
        8_880,
        "EV-1",
    )
    assert notice.nonce == headers["Wechatpay-Nonce"] and notice.signed_at is not None
    # one flipped byte in the body, a signature probe, another serial: all refused
    flipped = body.replace(
        b'"event_type":"TRANSACTION.SUCCESS"', b'"event_type":"TRANSACTION.SUCCESs"'
    )
    assert sdk(keys, url).callback(headers, flipped) is None
    probe = {
        **headers,
        "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"],
    }
    other_serial = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}
    for bad_headers, bad_body in ((headers, flipped), (probe, body), (other_serial, body)):
        with pytest.raises(NoticeRefused) as refused:
            PROVIDER.read_notice(bad_headers, bad_body, lambda key: acct, MCHID)
        assert refused.value.reason == "forged"
    wrong_key = Account(
        acct.id,
        acct.provider,
        acct.merchant_key,
        {**acct.settings, "apiv3_key": secrets.token_hex(16)},
        acct.gateway_url,
        acct.notify_url,
    )
    with pytest.raises(NoticeRefused, match="decrypt"):
        PROVIDER.read_notice(headers, body, lambda key: wrong_key, MCHID)


def test_our_adapter_against_the_emulator(
    keys: Keys, emulator: tuple[WechatPayEmulator, str]
) -> None:
    emu, url = emulator
    acct = account(keys, url)
    with httpx.Client() as client:
        started = PROVIDER.start(
            acct,
            PayRequest(
                "HT00000000000000000000W003",
                19_900,
                "CNY",
                "box",
                dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30),
            ),
            client,
        )
        assert started.ok and started.pay_url
        assert PROVIDER.query(acct, "HT00000000000000000000W003", client).status == "pending"
        emu.ledger.pay("HT00000000000000000000W003")
        assert PROVIDER.query(acct, "HT00000000000000000000W003", client).status == "succeeded"
        call = RefundCall(
            "HT00000000000000000000W003", "HTR0000000000000000000W03", 5_000, 19_900, "x"
        )
        assert PROVIDER.refund(acct, call, client).status == "processing"
        assert PROVIDER.query_refund(acct, call, client).status == "succeeded"
        day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        lines = PROVIDER.statement(acct, day, client)
        assert {(line.kind, line.amount_fen, line.fee_fen) for line in lines} == {
            ("payment", 19_900, 119),
            ("refund", 5_000, -30),
        }
        bad = Account(
            acct.id,
            acct.provider,
            acct.merchant_key,
            {**acct.settings, "platform_public_key": Keys().platform_public},
            acct.gateway_url,
            acct.notify_url,
        )
        assert not PROVIDER.query(bad, "HT00000000000000000000W003", client).ok  # unverifiable


@pytest.fixture
def wechat_shop(server: LiveServer, keys: Keys) -> Iterator[tuple[Market, WechatPayEmulator, str]]:
    emu = WechatPayEmulator([merchant(keys)], keys.platform_private, KEY_ID, time_scale=0.001)
    m = build_market(server)
    try:
        with running(emu.app) as url:
            ok(
                m.client("tmall").post(
                    "/v1/provider-accounts",
                    json={"provider": "wechatpay", "gateway_url": url, "settings": settings(keys)},
                ),
                201,
            )
            yield m, emu, url
    finally:
        m.close()
        emu.close()


def test_taobao_order_paid_with_wechat_pay_once_and_refunded(
    server: LiveServer, wechat_shop: tuple[Market, WechatPayEmulator, str], keys: Keys
) -> None:
    m, emu, gateway = wechat_shop
    sku = product(m, "tmall", price_fen=29_900, stock=2)["skus"][0]
    created = ok(order(m, "tmall", sku["id"]), 201)
    payment: dict[str, Any] = ok(
        m.client("tmall").post(
            f"/v1/orders/{created['id']}/payments", json={"provider": "wechatpay"}
        ),
        201,
    )
    assert payment["state"] == "pending" and payment["pay_url"]
    assert httpx.post(payment["pay_url"]).status_code == 200  # the buyer scans and pays
    wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
    emu.notify_paid(emu.ledger.payment(payment["out_trade_no"]))  # WeChat sends it again
    deliveries = wait_until(lambda: settled_deliveries(gateway))
    assert all(d["attempts"] == [204] for d in deliveries)

    # a replay of a real notification (same nonce) is refused; a fresh one is a duplicate
    headers, body = emu.notification(
        merchant(keys),
        "EV-REPLAY",
        "TRANSACTION.SUCCESS",
        "transaction",
        emu.transaction(emu.ledger.payment(payment["out_trade_no"])),
    )
    url = f"{server.url}/notify/wechatpay/{MCHID}"
    assert httpx.post(url, content=body, headers=headers).status_code == 204
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 400 and replay.json()["code"] == "FAIL"
    old = {**headers, "Wechatpay-Timestamp": str(int(headers["Wechatpay-Timestamp"]) - 600)}
    assert httpx.post(url, content=body, headers=old).status_code == 400  # stale (and unsigned)

    ok(
        m.client("tmall").post(f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 9_900}),
        201,
    )
    wait_until(lambda: state_of(m, "tmall", created["id"]) == "partially_refunded")
    final = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
    assert (final["paid_fen"], final["refunded_fen"]) == (29_900, 9_900)
    assert [e["cause"] for e in final["events"]] == [
        "order_created",
        "full_paid",
        "refund_succeeded",
    ]
    notices = ok(m.client("tmall").get(f"/v1/payments/{payment['id']}/notices"))
    assert [n["outcome"] for n in notices].count("applied") == 2  # the payment, the refund
    assert wechatpay.TRADE_STATE["REFUND"] == "succeeded"
