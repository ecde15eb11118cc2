"""Trust tables: the signals reported about streamers, the accounts linked to them, fraud
flags with their evidence, every score computed (the history), policies and alerts."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class SignalKind(enum.StrEnum):
    ORDER = "order"  # the denominator: orders sold
    REFUND = "refund"
    RETURN = "return"
    COMPLAINT = "complaint"
    NEGATIVE_REVIEW = "negative_review"
    QUALITY_INCIDENT = "quality_incident"


class TrustSignal(Base):
    """One reported fact (or a count of them) about a streamer, once per reporter and ref."""

    __tablename__ = "trust_signals"
    __table_args__ = (UniqueConstraint("reporter_id", "ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    product_ref: Mapped[str] = mapped_column(String(64), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    ref: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LinkedAccount(Base):
    """A buyer account the platform knows to be the streamer's own (same real name, device or
    payment account), as the keyed buyer hash orders carry."""

    __tablename__ = "streamer_linked_accounts"

    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), primary_key=True)
    buyer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reported_by: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FlagState(enum.StrEnum):
    OPEN = "open"  # counts against the score
    DISMISSED = "dismissed"  # risk staff found it innocent: stops counting


class TrustFlag(Base):
    __tablename__ = "trust_flags"
    __table_args__ = (UniqueConstraint("streamer_id", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # self_purchase | refund_farming
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default=FlagState.OPEN.value)
    note: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrustScore(Base):
    """One computation of a streamer's score: the history is these rows."""

    __tablename__ = "trust_scores"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    rule_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))  # scored | not_enough_data
    score_cp: Mapped[int | None] = mapped_column(Integer)  # hundredths of a point, 0..500
    orders: Mapped[int] = mapped_column(Integer)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrustPolicy(Base):
    """A content platform's thresholds for its streamers; absent, the defaults apply."""

    __tablename__ = "trust_policies"

    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"), primary_key=True)
    alert_below_cp: Mapped[int] = mapped_column(Integer)
    hold_below_cp: Mapped[int] = mapped_column(Integer)
    min_orders: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer)
    endpoint_id: Mapped[str | None] = mapped_column(ForeignKey("postback_endpoints.id"))
    updated_by: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrustAlert(Base):
    __tablename__ = "trust_alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    platform_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # below | recovered | held | released
    score_cp: Mapped[int | None] = mapped_column(Integer)
    threshold_cp: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
