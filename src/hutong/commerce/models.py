"""Commerce tables: products and SKUs, orders with their lines and events, platform terms and
the dated interoperability matrix (which payment providers and carriers a platform accepts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    title: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Sku(Base):
    """A sellable variant. Stock is three counters that always add up to what was received:
    ``available`` (can be ordered), ``reserved`` (held by unpaid orders), ``sold`` (paid).
    Only ``commerce.stock`` changes them, with conditional updates (never read-then-write)."""

    __tablename__ = "skus"
    __table_args__ = (UniqueConstraint("seller_id", "code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    price_fen: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    stock_available: Mapped[int] = mapped_column(Integer, default=0)
    stock_reserved: Mapped[int] = mapped_column(Integer, default=0)
    stock_sold: Mapped[int] = mapped_column(Integer, default=0)
    # Double 11 presale: a deposit when booked, the rest in the final-payment window.
    presale_deposit_fen: Mapped[int | None] = mapped_column(Integer)
    presale_final_starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    presale_final_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("seller_id", "external_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), index=True)
    resume_state: Mapped[str | None] = mapped_column(String(24))  # where a refused refund returns
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total_fen: Mapped[int] = mapped_column(Integer)
    deposit_fen: Mapped[int] = mapped_column(Integer, default=0)  # presale only
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    buyer_hash: Mapped[str] = mapped_column(String(64), index=True)
    device_hash: Mapped[str | None] = mapped_column(String(64))  # the app's device id, keyed
    ship_to: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # personal data
    region: Mapped[str] = mapped_column(String(32), default="")  # province, for carrier rules
    click_id: Mapped[str | None] = mapped_column(String(32))
    click_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    link_id: Mapped[str | None] = mapped_column(String(32))
    campaign_id: Mapped[str | None] = mapped_column(String(32), index=True)
    presale: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    final_due_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    final_due_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # receipt confirmed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)


class OrderEvent(Base):
    """One row per transition, appended and never edited: the order's history."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    cause: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlatformTerms(Base):
    """A shelf platform's order terms: how long an order may stay unpaid, and what happens to
    a presale deposit when the final payment never comes."""

    __tablename__ = "platform_terms"

    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"), primary_key=True)
    payment_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    deposit_rule: Mapped[str] = mapped_column(String(16), default="forfeit")
    source: Mapped[str] = mapped_column(Text, default="")


class InteropRule(Base):
    """From when to when a shelf platform accepts a payment provider or a carrier."""

    __tablename__ = "interop_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # payment | carrier
    partner: Mapped[str] = mapped_column(String(32))  # provider or carrier name
    allowed: Mapped[bool] = mapped_column(Boolean)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    source_sentence: Mapped[str] = mapped_column(Text, default="")
    date_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")


class AfterSale(Base):
    """A buyer's after-sale request (refund only, or return and refund) and its outcome."""

    __tablename__ = "after_sales"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # refund_only | return_refund
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # goods coming back
    state: Mapped[str] = mapped_column(String(16))  # requested|approved|rejected|received|refunded
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
