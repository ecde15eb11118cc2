"""Alipay, proven against python-alipay-sdk as the other party, and through hutong end to end.

The SDK must accept what our emulator and adapter sign, our side must accept what the SDK
signs, and since RSA PKCS#1 v1.5 is deterministic our signatures equal the SDK's byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from alipay import AliPay
from hypothesis import given
from hypothesis import strategies as st

from hutong.payments import crypto
from hutong.payments.emulators.alipay import AlipayApp, AlipayEmulator
from hutong.payments.protocol import Account, NoticeRefused
from hutong.payments.providers import alipay
from hutong.payments.providers.alipay import PROVIDER, fen, request_params, sign_content, yuan
from tests.conftest import running

APP_ID = "2021004100000001"


class Keys:
    def __init__(self) -> None:
        app, ali = crypto.new_rsa_key(), crypto.new_rsa_key()
        self.app_private, self.app_public = crypto.private_pem(app), crypto.public_pem(app)
        self.ali_private, self.ali_public = crypto.private_pem(ali), crypto.public_pem(ali)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def emulator(keys: Keys) -> Iterator[tuple[AlipayEmulator, str]]:
    emu = AlipayEmulator([AlipayApp(APP_ID, keys.app_public)], keys.ali_private, time_scale=0.001)
    try:
        with running(emu.app) as url:
            yield emu, url
    finally:
        emu.close()


def account(keys: Keys, gateway: str = "http://127.0.0.1:9/gateway.do") -> Account:
    return Account(
        id="pac_test",
        provider="alipay",
        merchant_key=APP_ID,
        settings={"app_private_key": keys.app_private, "alipay_public_key": keys.ali_public},
        gateway_url=gateway,
        notify_url="http://hutong.test/notify/alipay",
    )


def sdk(keys: Keys, gateway: str) -> AliPay:
    """The merchant's SDK client, pointed at the emulator (research/payment_sdks.md)."""
    client = AliPay(
        appid=APP_ID,
        app_notify_url="http://hutong.test/notify/alipay",
        app_private_key_string=keys.app_private,
        alipay_public_key_string=keys.ali_public,
        sign_type="RSA2",
    )
    client._gateway = f"{gateway}/gateway.do"
    return client


def test_amounts_are_yuan_to_the_fen() -> None:
    assert yuan(19_900) == "199.00" and yuan(1) == "0.01" and yuan(0) == "0.00"
    assert fen("199.00") == 19_900 and fen("0.01") == 1 and fen("12") == 1_200
    for bad in ("0.001", "-1.00", "abc", "1e3x"):
        with pytest.raises(ValueError):
            fen(bad)


@given(st.integers(0, 10**12))
def test_yuan_and_fen_round_trip(value: int) -> None:
    assert fen(yuan(value)) == value


def test_our_request_signature_is_the_sdks_byte_for_byte(keys: Keys) -> None:
    params = request_params(account(keys), "alipay.trade.query", {"out_trade_no": "HT1"})
    signer = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=keys.app_private,
        alipay_public_key_string=keys.app_public,  # to check the app's own signature
    )
    content = sign_content(params)
    assert signer._sign(content) == params["sign"]
    assert signer._verify(content, params["sign"])


def test_emulator_notifications_verify_with_the_sdk_and_equal_its_signature(
    keys: Keys, emulator: tuple[AlipayEmulator, str]
) -> None:
    emu, url = emulator
    sdk(keys, url).api_alipay_trade_precreate(
        subject="gift box", out_trade_no="HT0000000000000000000000001", total_amount="199.00"
    )
    payment = emu.ledger.pay("HT0000000000000000000000001")
    fields = emu.notification(payment, "notify-1")
    merchant = sdk(keys, url)
    unsigned = dict(fields)
    signature = unsigned.pop("sign")
    assert merchant.verify(dict(unsigned), signature) is True
    alipay_side = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=keys.ali_private,
        alipay_public_key_string=keys.ali_public,
    )
    assert alipay_side._sign(sign_content(fields, exclude=("sign", "sign_type"))) == signature
    tampered = dict(unsigned, total_amount="1.99")
    assert merchant.verify(tampered, signature) is False


def test_the_sdk_as_a_merchant_talks_to_the_emulator(
    keys: Keys, emulator: tuple[AlipayEmulator, str]
) -> None:
    """Every answer the SDK receives it verifies itself (it raises on a bad signature)."""
    emu, url = emulator
    client = sdk(keys, url)
    created = client.api_alipay_trade_precreate(
        subject="礼盒", out_trade_no="HT0000000000000000000000002", total_amount="88.80"
    )
    assert created["code"] == "10000" and created["qr_code"].endswith(
        "/HT0000000000000000000000002"
    )
    assert (
        client.api_alipay_trade_query(out_trade_no="HT0000000000000000000000002")["trade_status"]
        == "WAIT_BUYER_PAY"
    )
    emu.ledger.pay("HT0000000000000000000000002")
    queried = client.api_alipay_trade_query(out_trade_no="HT0000000000000000000000002")
    assert queried["trade_status"] == "TRADE_SUCCESS" and queried["total_amount"] == "88.80"
    refund = client.api_alipay_trade_refund(
        refund_amount="10.00", out_trade_no="HT0000000000000000000000002", out_request_no="R1"
    )
    assert refund["code"] == "10000" and refund["fund_change"] == "Y"
    again = client.api_alipay_trade_refund(
        refund_amount="10.00", out_trade_no="HT0000000000000000000000002", out_request_no="R1"
    )
    assert again["fund_change"] == "N" and again["refund_fee"] == "10.00"  # applied once
    queried_refund = client.api_alipay_trade_fastpay_refund_query(
        "R1", out_trade_no="HT0000000000000000000000002"
    )
    assert queried_refund["refund_amount"] == "10.00"
    missing = client.api_alipay_trade_query(out_trade_no="HT-NOT-THERE")
    assert missing["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_our_adapter_against_the_emulator(keys: Keys, emulator: tuple[AlipayEmulator, str]) -> None:
    emu, url = emulator
    acct = account(keys, f"{url}/gateway.do")
    with httpx.Client() as client:
        from hutong.payments.protocol import PayRequest, RefundCall

        started = PROVIDER.start(
            acct,
            PayRequest(
                "HT0000000000000000000000003",
                19_900,
                "CNY",
                "box",
                dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30),
            ),
            client,
        )
        assert started.ok and started.pay_url
        assert PROVIDER.query(acct, "HT0000000000000000000000003", client).status == "pending"
        emu.ledger.pay("HT0000000000000000000000003")
        paid = PROVIDER.query(acct, "HT0000000000000000000000003", client)
        assert paid.found and paid.status == "succeeded" and paid.amount_fen == 19_900
        call = RefundCall("HT0000000000000000000000003", "HTR1", 5_000, 19_900, "dent")
        assert PROVIDER.refund(acct, call, client).status == "succeeded"
        assert PROVIDER.query_refund(acct, call, client).status == "succeeded"
        day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        lines = PROVIDER.statement(acct, day, client)
        assert {(line.kind, line.amount_fen, line.fee_fen) for line in lines} == {
            ("payment", 19_900, 119),
            ("refund", 5_000, -30),
        }
        assert not PROVIDER.query(acct, "HT-NONE", client).found


def test_a_notification_signed_by_the_sdk_is_read_and_a_tampered_one_refused(keys: Keys) -> None:
    """The other direction: what Alipay's key signs (here via the SDK) our adapter accepts."""
    alipay_side = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=keys.ali_private,
        alipay_public_key_string=keys.ali_public,
    )
    fields = {
        "notify_time": alipay.local_time(dt.datetime.now(dt.UTC)),
        "notify_type": "trade_status_sync",
        "notify_id": "ntf-42",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2024111122001",
        "out_trade_no": "HT0000000000000000000000004",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "199.00",
    }
    fields["sign"] = alipay_side._sign(sign_content(fields))
    fields["sign_type"] = "RSA2"
    acct = account(keys)
    notice = PROVIDER.read_notice({}, urlencode(fields).encode(), lambda key: acct)
    assert (notice.status, notice.amount_fen, notice.dedupe_key) == ("succeeded", 19_900, "ntf-42")
    for name, value in (
        ("total_amount", "199.01"),
        ("out_trade_no", "HT0000000000000000000000005"),
    ):
        with pytest.raises(NoticeRefused) as refused:
            PROVIDER.read_notice({}, urlencode({**fields, name: value}).encode(), lambda key: acct)
        assert refused.value.reason == "forged"
    with pytest.raises(NoticeRefused) as other_key:
        stranger = Keys()
        forged = dict(fields)
        forged["sign"] = crypto.rsa_sign(
            crypto.load_private(stranger.ali_private),
            sign_content(fields, exclude=("sign", "sign_type")).encode(),
        )
        PROVIDER.read_notice({}, urlencode(forged).encode(), lambda key: acct)
    assert other_key.value.reason == "forged"
    with pytest.raises(NoticeRefused) as rsa1:
        PROVIDER.read_notice({}, urlencode({**fields, "sign_type": "RSA"}).encode(), lambda k: acct)
    assert rsa1.value.reason == "forged"
