"""What the ad-platform protocols store: monitoring calls, conversion callbacks, gateways."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class AdClick(Base):
    """One tap a content platform's ad system reported by a monitoring call (one row per tap,
    however often the platform repeats the call). ``click_id`` is the touchpoint's id in the
    click log: this call's own, or the jump's when the jump for the same tap came first."""

    __tablename__ = "ad_clicks"
    __table_args__ = (UniqueConstraint("platform", "tap_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tap_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the platform's click key
    click_id: Mapped[str] = mapped_column(String(32), index=True)
    callback: Mapped[str] = mapped_column(Text)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(32), index=True)  # the placement's tenant
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    bot_reason: Mapped[str] = mapped_column(String(32), default="")
    seen_first_by: Mapped[str] = mapped_column(String(8))  # "monitor" or "jump"
    ad: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    platform_ts: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    calls: Mapped[int] = mapped_column(BigInteger, default=1)  # repeats included
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdConversion(Base):
    """One conversion callback to a content platform's ad system: queued once per order and
    event, sent through the outbox, kept with the platform's answer."""

    __tablename__ = "ad_conversions"
    __table_args__ = (UniqueConstraint("order_ref", "reporter_id", "event"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)
    event: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(32))
    ad_click_id: Mapped[str] = mapped_column(ForeignKey("ad_clicks.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(80))
    reporter_id: Mapped[str] = mapped_column(String(32), index=True)
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    outbox_id: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # accepted/refused/failed
    attempts: Mapped[int] = mapped_column(BigInteger, default=0)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdGateway(Base):
    """Where an ad platform's conversion API is reached (the published endpoint by default;
    an operator points it at the emulator or a proxy)."""

    __tablename__ = "ad_gateways"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
