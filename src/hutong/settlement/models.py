"""Settlement tables: periods, the journal (entries and their lines), the charges and
commissions it books, the commission rate table and holds on payees.

The ledger's sign convention: a line's ``amount_fen`` is positive when the tenant owes it
(a cost) and negative when the tenant is owed it (an income). Every entry's lines sum to zero,
so the whole ledger does too; a tenant's balance is the sum of its lines.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class Period(Base):
    """A calendar month in Asia/Shanghai, ``2024-11``. Closed, it is immutable: nothing is
    posted into it again, and later facts about it go to the next open period."""

    __tablename__ = "settlement_periods"

    id: Mapped[str] = mapped_column(String(7), primary_key=True)
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JournalEntry(Base):
    """One fact in money: a charge, a commission estimated, confirmed, settled, clawed back.

    ``ref`` names the fact, so posting it again (a retried run) is a no-op."""

    __tablename__ = "journal_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_id: Mapped[str] = mapped_column(ForeignKey("settlement_periods.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    occurred_on: Mapped[dt.date] = mapped_column(Date)  # the business day it is about
    memo: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JournalLine(Base):
    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    period_id: Mapped[str] = mapped_column(String(7), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account: Mapped[str] = mapped_column(String(24))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[str | None] = mapped_column(String(32), index=True)
    order_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Charge(Base):
    """CPM or CPC owed for one campaign's placement on one day: the units counted in the lake
    and what the ledger holds for them (less than owed once the budget is spent)."""

    __tablename__ = "charges"

    campaign_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    placement_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4), primary_key=True)  # cpm | cpc
    buyer_id: Mapped[str] = mapped_column(String(32))
    payee_id: Mapped[str] = mapped_column(String(32))
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    owed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    booked_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Commission(Base):
    """CPS on one attributed touchpoint of one order, to one payee (the content platform or
    the streamer/affiliate), through the alliances' states plus ``held``."""

    __tablename__ = "commissions"
    __table_args__ = (UniqueConstraint("order_id", "touch_id", "payee_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    touch_id: Mapped[str] = mapped_column(String(40))
    campaign_id: Mapped[str] = mapped_column(String(32), index=True)
    buyer_id: Mapped[str] = mapped_column(String(32))
    payee_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(12))  # platform | affiliate
    model: Mapped[str] = mapped_column(String(16))
    credit_fen: Mapped[int] = mapped_column(BigInteger)  # attributed GMV net of refunds
    rate_bp: Mapped[int] = mapped_column(Integer)
    share_bp: Mapped[int] = mapped_column(Integer)
    owed_fen: Mapped[int] = mapped_column(BigInteger)
    booked_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), index=True)
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    settle_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    settled_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_period: Mapped[str | None] = mapped_column(String(7))
    source: Mapped[str] = mapped_column(String(16), default="hutong")  # or an alliance
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CommissionRate(Base):
    """How a streamer's or affiliate's touchpoint's CPS is split with the content platform it
    was on: ``affiliate_share_bp`` to the affiliate, the rest to the platform. A row for the
    platform with no affiliate is its default; none at all: ``DEFAULT_AFFILIATE_SHARE_BP``."""

    __tablename__ = "commission_rates"
    __table_args__ = (UniqueConstraint("platform_tenant_id", "affiliate_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    affiliate_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    affiliate_share_bp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PayeeHold(Base):
    """A trust policy holds a payee's money: its commissions do not settle while held."""

    __tablename__ = "payee_holds"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AllianceAccount(Base):
    """A publisher account with an affiliate alliance (Taobao Alliance, JD Union) that only
    offers its orders by polling: whose it is, how to reach it, and how far it has been read."""

    __tablename__ = "alliance_accounts"
    __table_args__ = (UniqueConstraint("platform", "publisher_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # taobao | jd
    owner_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)  # content platform
    payer_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))  # the shelf platform's tenant
    publisher_key: Mapped[str] = mapped_column(String(64))  # app_key
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sealed: Mapped[str] = mapped_column(Text, default="")
    gateway_url: Mapped[str] = mapped_column(Text)
    polled_through: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    window_seconds: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlliancePosition(Base):
    """What an alliance position (Taobao ``adzone_id``, JD ``positionId``) stands for here."""

    __tablename__ = "alliance_positions"

    account_id: Mapped[str] = mapped_column(ForeignKey("alliance_accounts.id"), primary_key=True)
    position_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    placement_id: Mapped[str | None] = mapped_column(String(32))
    affiliate_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))


class AllianceOrder(Base):
    """One order line as the alliance reports it: one row per platform order, whatever the
    windows' overlap; updated in place as its status moves."""

    __tablename__ = "alliance_orders"
    __table_args__ = (UniqueConstraint("platform", "order_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("alliance_accounts.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    order_ref: Mapped[str] = mapped_column(String(64))  # Taobao trade_id; JD's row id
    parent_ref: Mapped[str] = mapped_column(String(64), default="")
    item_ref: Mapped[str] = mapped_column(String(64), default="")
    position_id: Mapped[str] = mapped_column(String(32), default="")
    raw_status: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(12))  # paid | confirmed | settled | invalid ...
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    commission_fen: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
