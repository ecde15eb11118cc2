"""Answers and notifications that verify but lack a field: each provider's adapter, against its
own emulator made to leave one field out of what it signs, every field in turn.

A signed answer is the provider speaking, so a missing field is not a forgery; but reading it
as an outcome would be a guess. The adapter must say it could not read it (an error the status
sync retries) and never report an outcome the provider's own books contradict: no failed refund
for a refund it made, no payment of another amount, no exception into the request or worker.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from hutong.payments.emulators.alipay import AlipayApp, AlipayEmulator
from hutong.payments.emulators.unionpay import UnionPayEmulator, UnionPayKeys
from hutong.payments.emulators.wechatpay import WechatPayEmulator
from hutong.payments.protocol import (
    Account,
    Notice,
    NoticeRefused,
    PaymentStatus,
    PayRequest,
    RefundCall,
    RefundStatus,
)
from hutong.payments.providers import alipay, unionpay, wechatpay
from tests.conftest import running
from tests.payments import test_alipay, test_unionpay, test_wechatpay

AMOUNT = 12_345
METHODS = ("start", "query", "refund", "query_refund")


@dataclass
class Rig:
    """One provider's adapter, account and emulator, and a client between them."""

    provider: Any
    account: Account
    emulator: Any
    client: httpx.Client
    placed: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def pay_request(self, out_trade_no: str) -> PayRequest:
        expires = self.placed + dt.timedelta(minutes=30)
        return PayRequest(out_trade_no, AMOUNT, "CNY", "box", expires, self.placed)

    def refund_call(self, out_trade_no: str, out_refund_no: str) -> RefundCall:
        return RefundCall(
            out_trade_no, out_refund_no, 2_345, AMOUNT, "x", self.placed, dt.datetime.now(dt.UTC)
        )


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """The provider the test is parametrized with, against its omitting emulator."""
    build: Callable[[], tuple[Any, Any, Callable[[str], Account]]] = {
        "alipay": _alipay,
        "wechatpay": _wechatpay,
        "unionpay": _unionpay,
    }[request.param]
    provider, emulator, account = build()
    try:
        with running(emulator.app) as url, httpx.Client(timeout=10) as client:
            yield Rig(provider, account(url), emulator, client)
    finally:
        emulator.close()


def _alipay() -> tuple[Any, Any, Callable[[str], Account]]:
    keys = test_alipay.Keys()
    apps = [AlipayApp(test_alipay.APP_ID, keys.app_public)]
    emulator = AlipayEmulator(apps, keys.ali_private, time_scale=0.001)
    return alipay.PROVIDER, emulator, lambda url: test_alipay.account(keys, url + "/gateway.do")


def _wechatpay() -> tuple[Any, Any, Callable[[str], Account]]:
    keys = test_wechatpay.Keys()
    merchants = [test_wechatpay.merchant(keys)]
    emulator = WechatPayEmulator(
        merchants, keys.platform_private, test_wechatpay.KEY_ID, time_scale=0.001
    )
    return wechatpay.PROVIDER, emulator, lambda url: test_wechatpay.account(keys, url)


def _unionpay() -> tuple[Any, Any, Callable[[str], Account]]:
    keys = UnionPayKeys.generate()
    emulator = UnionPayEmulator({test_unionpay.MER_ID: keys.merchant_cert}, keys, time_scale=0.001)
    return unionpay.PROVIDER, emulator, lambda url: test_unionpay.account(keys, url)


def trade_no() -> str:
    return "HT" + secrets.token_hex(12).upper()


def call(rig: Rig, method: str, omit: str) -> tuple[object, set[str]]:
    """Bring a fresh payment to where ``method`` applies (with nothing omitted), then call it
    with ``omit`` left out of what the emulator signs. The result (or the exception raised)
    and the fields the emulator signed for that call."""
    omission, adapter, acct = rig.emulator.omission, rig.provider, rig.account
    omission.path = ""
    out_trade_no = trade_no()
    refund = rig.refund_call(out_trade_no, "HTR" + secrets.token_hex(10).upper())
    if method != "start":
        assert adapter.start(acct, rig.pay_request(out_trade_no), rig.client).ok
        rig.emulator.ledger.pay(out_trade_no)
    if method == "query_refund":
        assert adapter.refund(acct, refund, rig.client).ok
    omission.path, omission.seen = omit, set()
    try:
        if method == "start":
            result: object = adapter.start(acct, rig.pay_request(out_trade_no), rig.client)
        elif method == "query":
            result = adapter.query(acct, out_trade_no, rig.client, rig.placed)
        else:
            result = getattr(adapter, method)(acct, refund, rig.client)
    except Exception as exc:  # the very thing under test: nothing may escape
        result = exc
    finally:
        omission.path = ""
    return result, set(omission.seen)


def contradicts(method: str, result: Any) -> bool:
    """Whether ``result`` is an exception, or an outcome the provider's books deny (the
    payment was made and paid; the refund, where one was asked for, was accepted)."""
    if isinstance(result, Exception) or not result.ok:
        return isinstance(result, Exception)
    if method == "start":
        return not result.pay_url
    if method == "query":
        return not (
            result.found
            and result.status is PaymentStatus.SUCCEEDED
            and result.amount_fen == AMOUNT
        )
    return result.status not in (RefundStatus.PROCESSING, RefundStatus.SUCCEEDED)


@pytest.mark.parametrize("rig", ["alipay", "wechatpay", "unionpay"], indirect=True)
def test_a_signed_answer_missing_a_field_is_an_error_never_a_wrong_outcome(rig: Rig) -> None:
    wrong = []
    for method in METHODS:
        complete, signed = call(rig, method, "")
        assert not contradicts(method, complete) and complete.ok, (method, complete)  # type: ignore[attr-defined]
        assert signed, f"{method}: the emulator signed nothing"
        for path in sorted(signed):
            result, _ = call(rig, method, path)
            if contradicts(method, result):
                wrong.append((method, path, result))
    assert not wrong, "\n".join(map(str, wrong))


def is_the_payment(notice: Notice, rig: Rig, out_trade_no: str) -> bool:
    return (
        notice.kind == "payment"
        and notice.out_trade_no == out_trade_no
        and notice.merchant_key == rig.account.merchant_key
        and notice.status == PaymentStatus.SUCCEEDED.value
        and notice.amount_fen == AMOUNT
    )


def notifications(rig: Rig, out_trade_no: str) -> Iterator[tuple[str, dict[str, str], bytes]]:
    """The paid payment's notification, signed with each of its fields left out in turn."""
    emu, payment = rig.emulator, rig.emulator.ledger.payment(out_trade_no)
    if isinstance(emu, AlipayEmulator):

        def build() -> tuple[dict[str, str], bytes]:
            return {}, urlencode(emu.notification(payment, "n-" + out_trade_no)).encode()

    elif isinstance(emu, WechatPayEmulator):
        merchant = emu.merchants[rig.account.merchant_key]

        def build() -> tuple[dict[str, str], bytes]:
            resource = emu.transaction(payment)
            return emu.notification(merchant, "e-1", "TRANSACTION.SUCCESS", "transaction", resource)

    else:

        def build() -> tuple[dict[str, str], bytes]:
            return {}, urlencode(emu.notice_fields(payment)).encode()

    emu.omission.seen = set()
    build()  # what a complete notification carries
    for path in sorted(emu.omission.seen):
        emu.omission.path = path
        try:
            yield (path, *build())
        finally:
            emu.omission.path = ""


@pytest.mark.parametrize("rig", ["alipay", "wechatpay", "unionpay"], indirect=True)
def test_a_signed_notification_missing_a_field_is_refused_or_read_right(rig: Rig) -> None:
    out_trade_no = trade_no()
    assert rig.provider.start(rig.account, rig.pay_request(out_trade_no), rig.client).ok
    rig.emulator.ledger.pay(out_trade_no)
    wrong, refused = [], 0
    for path, headers, body in notifications(rig, out_trade_no):
        try:
            notice = rig.provider.read_notice(
                headers, body, lambda key: rig.account, rig.account.merchant_key
            )
        except NoticeRefused:
            refused += 1
            continue
        except Exception as exc:  # nothing else may escape into the notification route
            wrong.append((path, exc))
            continue
        if not is_the_payment(notice, rig, out_trade_no):
            wrong.append((path, notice))
    assert not wrong, "\n".join(map(str, wrong))
    assert refused  # some fields are needed, and their absence was noticed
