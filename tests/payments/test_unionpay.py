"""UnionPay ACP 5.1.0: its signature scheme, certificate chain checks, the adapter against the
emulator, and a JD order paid and refunded with UnionPay through hutong."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from hutong.payments import crypto
from hutong.payments.emulators.unionpay import UnionPayEmulator, UnionPayKeys
from hutong.payments.protocol import Account, NoticeRefused, PayRequest, RefundCall
from hutong.payments.providers.unionpay import PROVIDER, sign, sign_content, verify
from tests.api.market import Market, build_market, ok
from tests.commerce.shop import order, product, state_of, wait_until
from tests.conftest import LiveServer, running

MER_ID = "777290058110097"


@pytest.fixture(scope="module")
def keys() -> UnionPayKeys:
    return UnionPayKeys.generate()


def settings(keys: UnionPayKeys) -> dict[str, str]:
    return {
        "mer_id": MER_ID,
        "sign_private_key": keys.merchant_key,
        "sign_cert": keys.merchant_cert,
        "root_cert": keys.root_cert,
    }


def account(keys: UnionPayKeys, gateway: str = "http://127.0.0.1:9") -> Account:
    return Account(
        "pac_up", "unionpay", MER_ID, settings(keys), gateway, "http://hutong.test/notify/unionpay"
    )


@pytest.fixture
def emulator(keys: UnionPayKeys) -> Iterator[tuple[UnionPayEmulator, str]]:
    emu = UnionPayEmulator({MER_ID: keys.merchant_cert}, keys, time_scale=0.001)
    try:
        with running(emu.app) as url:
            yield emu, url
    finally:
        emu.close()


def test_the_signature_is_rsa_over_the_hex_sha256_of_the_sorted_fields(keys: UnionPayKeys) -> None:
    fields = {"txnAmt": "100", "orderId": "HT1", "merId": MER_ID, "version": "5.1.0"}
    joined = "merId=777290058110097&orderId=HT1&txnAmt=100&version=5.1.0"
    assert sign_content(fields) == hashlib.sha256(joined.encode()).hexdigest().encode()
    signed = sign(fields, keys.signer_key)
    raw = base64.b64decode(signed["signature"])
    public = crypto.load_public(keys.signer_cert)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    public.verify(
        raw,
        hashlib.sha256(joined.encode()).hexdigest().encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    # the certificate travels inside the signed fields
    assert not verify({**signed, "signPubKeyCert": keys.signer_cert}, keys.root_cert)
    carried = sign({**fields, "signPubKeyCert": keys.signer_cert}, keys.signer_key)
    assert verify(carried, keys.root_cert)


def test_a_certificate_from_another_root_or_a_tampered_field_is_refused(keys: UnionPayKeys) -> None:
    fields = sign(
        {"txnAmt": "100", "orderId": "HT1", "signPubKeyCert": keys.signer_cert}, keys.signer_key
    )
    assert verify(fields, keys.root_cert)
    assert not verify({**fields, "txnAmt": "101"}, keys.root_cert)
    other = UnionPayKeys.generate()
    impostor = sign(
        {"txnAmt": "100", "orderId": "HT1", "signPubKeyCert": other.signer_cert}, other.signer_key
    )
    assert not verify(impostor, keys.root_cert)  # valid signature, wrong chain
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4000)
    assert not verify(fields, keys.root_cert, now=later)  # expired certificate


def test_our_adapter_against_the_emulator(
    keys: UnionPayKeys, emulator: tuple[UnionPayEmulator, str]
) -> None:
    emu, url = emulator
    acct = account(keys, url)
    placed = dt.datetime.now(dt.UTC)
    with httpx.Client() as client:
        started = PROVIDER.start(
            acct,
            PayRequest(
                "HT00000000000000000000U001",
                12_345,
                "CNY",
                "box",
                placed + dt.timedelta(minutes=30),
                placed,
            ),
            client,
        )
        assert started.ok and started.pay_url
        assert (
            PROVIDER.query(acct, "HT00000000000000000000U001", client, placed).status == "pending"
        )
        assert not PROVIDER.query(
            acct, "HT00000000000000000000U001", client, placed + dt.timedelta(seconds=5)
        ).found  # ACP needs the txnTime
        emu.ledger.pay("HT00000000000000000000U001")
        paid = PROVIDER.query(acct, "HT00000000000000000000U001", client, placed)
        assert paid.status == "succeeded" and paid.amount_fen == 12_345 and paid.provider_txn_id
        refund_at = dt.datetime.now(dt.UTC)
        call = RefundCall(
            "HT00000000000000000000U001",
            "HTR000000000000000000U01",
            2_345,
            12_345,
            "x",
            placed,
            refund_at,
        )
        assert PROVIDER.refund(acct, call, client).status == "processing"
        assert PROVIDER.query_refund(acct, call, client).status == "succeeded"
        day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        lines = PROVIDER.statement(acct, day, client)
        assert {(line.kind, line.amount_fen, line.fee_fen) for line in lines} == {
            ("payment", 12_345, 74),
            ("refund", 2_345, -14),
        }
        fields = emu.notice_fields(emu.ledger.payment("HT00000000000000000000U001"))
        notice = PROVIDER.read_notice({}, urlencode(fields).encode(), lambda key: acct)
        assert (notice.status, notice.amount_fen) == ("succeeded", 12_345)
        with pytest.raises(NoticeRefused):
            PROVIDER.read_notice(
                {}, urlencode({**fields, "txnAmt": "1"}).encode(), lambda key: acct
            )


@pytest.fixture
def jd_shop(server: LiveServer, keys: UnionPayKeys) -> Iterator[tuple[Market, UnionPayEmulator]]:
    emu = UnionPayEmulator({MER_ID: keys.merchant_cert}, keys, time_scale=0.001)
    m = build_market(server)
    try:
        with running(emu.app) as url:
            ok(
                m.client("jd").post(
                    "/v1/provider-accounts",
                    json={"provider": "unionpay", "gateway_url": url, "settings": settings(keys)},
                ),
                201,
            )
            yield m, emu
    finally:
        m.close()
        emu.close()


def test_a_jd_order_paid_and_refunded_with_unionpay(
    server: LiveServer, jd_shop: tuple[Market, UnionPayEmulator]
) -> None:
    m, emu = jd_shop
    sku = product(m, "jd", price_fen=50_000, stock=1)["skus"][0]
    created = ok(order(m, "jd", sku["id"]), 201)
    payment = ok(
        m.client("jd").post(f"/v1/orders/{created['id']}/payments", json={"provider": "unionpay"}),
        201,
    )
    assert httpx.post(payment["pay_url"]).status_code == 200
    wait_until(lambda: state_of(m, "jd", created["id"]) == "paid")
    ok(m.client("jd").post(f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 50_000}), 201)
    wait_until(lambda: state_of(m, "jd", created["id"]) == "refunded")
    final = ok(m.client("jd").get(f"/v1/orders/{created['id']}"))
    assert (final["paid_fen"], final["refunded_fen"]) == (50_000, 50_000)
    assert emu.ledger.payment(payment["out_trade_no"]).refunded_fen == 50_000
