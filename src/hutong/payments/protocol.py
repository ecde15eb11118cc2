"""One protocol every payment provider adapter implements, and the plain data it speaks.

Adapters are Karrio-style: pure functions build and read the provider's messages; the few
methods that do I/O take an ``httpx.Client`` and return failures as data (``ok=False`` with
the provider's error), never as exceptions, so the service decides what a failure means.
Only ``read_notice`` raises: ``NoticeRefused`` for anything that must not change state.

An answer that verifies but is not what the provider's API documents (a field missing, a
status nobody listed) is read as a failure to read (``hutong.answers``), never as an outcome:
the status sync asks again, where a guess could refund twice or book a payment of another amount.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx


class PaymentStatus(enum.StrEnum):
    CREATED = "created"  # our row exists; the provider may not have heard of it yet
    PENDING = "pending"  # the provider took it; the buyer has not paid
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"  # expired or closed unpaid


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# A status only ever moves to a higher rank (a late "pending" after "succeeded" changes nothing).
PAYMENT_RANK = {
    PaymentStatus.CREATED: 0,
    PaymentStatus.PENDING: 1,
    PaymentStatus.SUCCEEDED: 2,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CLOSED: 2,
}
REFUND_RANK = {
    RefundStatus.REQUESTED: 0,
    RefundStatus.PROCESSING: 1,
    RefundStatus.SUCCEEDED: 2,
    RefundStatus.FAILED: 2,
}


@dataclass(frozen=True)
class Account:
    """A seller's account with a provider, secrets unsealed, as an adapter needs it."""

    id: str
    provider: str
    merchant_key: str  # how the provider names the account in its messages (app_id, mchid...)
    settings: Mapping[str, str]
    gateway_url: str
    notify_url: str


@dataclass(frozen=True)
class PayRequest:
    out_trade_no: str
    amount_fen: int
    currency: str
    subject: str
    expires_at: dt.datetime
    placed_at: dt.datetime | None = None  # when our payment row was made (UnionPay's txnTime)


@dataclass(frozen=True)
class PayStarted:
    ok: bool
    pay_url: str = ""  # what the buyer opens or scans (payment page, code_url, tn)
    provider_txn_id: str = ""
    error: str = ""


@dataclass(frozen=True)
class QueryResult:
    ok: bool
    found: bool = False
    status: PaymentStatus = PaymentStatus.PENDING
    amount_fen: int = 0
    provider_txn_id: str = ""
    raw_status: str = ""
    error: str = ""


@dataclass(frozen=True)
class RefundCall:
    out_trade_no: str
    out_refund_no: str
    amount_fen: int
    total_fen: int  # of the payment refunded (WeChat wants both)
    reason: str
    payment_placed_at: dt.datetime | None = None
    refund_placed_at: dt.datetime | None = None


@dataclass(frozen=True)
class RefundResult:
    ok: bool
    status: RefundStatus = RefundStatus.PROCESSING
    provider_refund_id: str = ""
    raw_status: str = ""
    error: str = ""


@dataclass(frozen=True)
class Notice:
    """A verified, parsed notification: what happened to which payment or refund."""

    kind: str  # "payment" | "refund" | "info" (acknowledged and recorded, never applied)
    dedupe_key: str  # the provider's id for this notification (same across its retries)
    merchant_key: str
    out_trade_no: str
    status: str  # a PaymentStatus or RefundStatus value
    amount_fen: int
    currency: str = "CNY"
    provider_txn_id: str = ""
    out_refund_no: str = ""
    raw_status: str = ""
    signed_at: dt.datetime | None = None  # a signed timestamp to check for staleness
    nonce: str = ""  # a signed nonce that must never be seen twice


@dataclass(frozen=True)
class StatementLine:
    """One line of a provider's daily statement, in hutong's terms."""

    kind: str  # "payment" | "refund"
    out_trade_no: str
    out_refund_no: str
    provider_txn_id: str
    amount_fen: int
    fee_fen: int
    at: dt.datetime


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


class NoticeRefused(Exception):
    """A notification that must change nothing: forged, malformed, unknown account, stale."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


AccountLookup = Callable[[str], "Account | None"]


class PaymentProvider(Protocol):
    name: str
    settings_required: tuple[str, ...]
    settings_secret: tuple[str, ...]
    merchant_key_setting: str

    def start(self, account: Account, request: PayRequest, client: httpx.Client) -> PayStarted:
        """Create the payment at the provider (pre-order / precreate / consume)."""
        ...

    def read_notice(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup, hint: str = ""
    ) -> Notice:
        """Verify and parse a notification; NoticeRefused if it must change nothing.

        ``hint`` is the last segment of the notify URL when there is one
        (``/notify/<provider>/<hint>``): the merchant, for providers whose body cannot say.
        """
        ...

    def reply(self, accepted: bool) -> Reply:
        """The answer the provider expects (accepted: do not send it again)."""
        ...

    def query(
        self,
        account: Account,
        out_trade_no: str,
        client: httpx.Client,
        placed_at: dt.datetime | None = None,
    ) -> QueryResult:
        """Ask the provider about a payment by our merchant reference (and when we placed
        it, which UnionPay's query needs)."""
        ...

    def refund(self, account: Account, call: RefundCall, client: httpx.Client) -> RefundResult:
        """Ask for a refund; the same ``out_refund_no`` twice is one refund at the provider."""
        ...

    def query_refund(
        self, account: Account, call: RefundCall, client: httpx.Client
    ) -> RefundResult: ...

    def statement(
        self, account: Account, day: dt.date, client: httpx.Client
    ) -> list[StatementLine]:
        """The provider's statement of ``day`` (Asia/Shanghai), parsed."""
        ...
