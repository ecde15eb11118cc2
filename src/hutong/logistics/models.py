"""Logistics tables: carrier accounts, each seller's carrier rule, shipments and their tracking
events (unique per carrier event, so a full re-push never duplicates one), and the sellers'
accounts with the platforms a shipment is written back to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class CarrierAccount(Base):
    __tablename__ = "carrier_accounts"
    __table_args__ = (UniqueConstraint("carrier", "customer_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(16))
    customer_key: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sealed: Mapped[str] = mapped_column(Text, default="")
    gateway_url: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CarrierRule(Base):
    """How a seller chooses a carrier: ``fixed`` (the first carrier), ``cheapest`` (quotes),
    ``fastest`` (the measured record to the region), or ``preference`` (in order, falling back
    when a carrier refuses or the platform does not accept it)."""

    __tablename__ = "carrier_rules"

    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))
    carriers: Mapped[list[str]] = mapped_column(JSON, default=list)
    ship_from: Mapped[str] = mapped_column(String(32), default="浙江省")  # the warehouse's province
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "waybill_no"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("carrier_accounts.id"))
    carrier: Mapped[str] = mapped_column(String(16))
    waybill_no: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    from_region: Mapped[str] = mapped_column(String(32), default="")
    to_region: Mapped[str] = mapped_column(String(32), default="")
    weight_g: Mapped[int] = mapped_column(Integer, default=1000)
    quoted_fee_fen: Mapped[int | None] = mapped_column(Integer)
    promised_days: Mapped[int | None] = mapped_column(Integer)
    chosen_by: Mapped[str] = mapped_column(String(40), default="")  # the rule and why
    error: Mapped[str] = mapped_column(Text, default="")
    stale: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    written_back_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    writeback_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    picked_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_event_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # time, code, place: one carrier event
    status: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))  # the carrier's own
    text: Mapped[str] = mapped_column(Text, default="")  # the carrier's own words
    location: Mapped[str] = mapped_column(String(120), default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(8))  # push | poll
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlatformAccount(Base):
    """A seller's credentials with the shelf platform's open API, for writing shipments back."""

    __tablename__ = "platform_accounts"
    __table_args__ = (UniqueConstraint("seller_id", "platform_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sealed: Mapped[str] = mapped_column(Text, default="")
    gateway_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
