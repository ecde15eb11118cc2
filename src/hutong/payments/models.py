"""Payment tables: provider accounts, payment attempts, refunds, and the notifications and
nonces seen (their unique keys are what make a duplicate notification apply once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class ProviderAccount(Base):
    __tablename__ = "provider_accounts"
    __table_args__ = (UniqueConstraint("provider", "merchant_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    merchant_key: Mapped[str] = mapped_column(String(64))  # app_id / mchid / merId
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # public values
    sealed: Mapped[str] = mapped_column(Text, default="")  # secrets, AES-GCM under a local key
    gateway_url: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payment(Base):
    """One attempt to take money for one phase of an order through one provider."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("provider_accounts.id"))
    provider: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(8))  # full | deposit | final
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    state: Mapped[str] = mapped_column(String(12), index=True)
    provider_txn_id: Mapped[str] = mapped_column(String(64), default="")
    pay_url: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)  # the order took this money
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sync_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    sync_attempts: Mapped[int] = mapped_column(Integer, default=0)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(12), index=True)
    provider_refund_id: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sync_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    sync_attempts: Mapped[int] = mapped_column(Integer, default=0)


class PaymentNotice(Base):
    """Every notification received, verified or not, and what it did."""

    __tablename__ = "payment_notices"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8), default="")
    payment_id: Mapped[str | None] = mapped_column(String(32), index=True)
    refund_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="")
    outcome: Mapped[str] = mapped_column(String(24))  # applied | unchanged | ...
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body_sha256: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SeenNonce(Base):
    """Signed nonces already accepted, kept past the replay window (then purged)."""

    __tablename__ = "seen_nonces"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Reconciliation(Base):
    """One run of a day's three-way reconciliation of one provider account, kept as run."""

    __tablename__ = "reconciliations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("provider_accounts.id"))
    provider: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))  # Asia/Shanghai calendar day
    matched: Mapped[int] = mapped_column(Integer)
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    totals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    with_platform: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
