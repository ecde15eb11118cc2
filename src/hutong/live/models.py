"""Live tables: streamers, live sessions with the products on their shelf, and penalties as a
points ledger whose every change of state is recorded."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class SessionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class PenaltyState(enum.StrEnum):
    RAISED = "raised"  # in force
    APPEALED = "appealed"  # in force while the appeal is heard
    UPHELD = "upheld"  # the appeal failed: in force, final
    REVOKED = "revoked"  # withdrawn or the appeal succeeded: stops counting, final


# which changes a penalty may make; anything else is a 409
PENALTY_MOVES: dict[PenaltyState, frozenset[PenaltyState]] = {
    PenaltyState.RAISED: frozenset({PenaltyState.APPEALED, PenaltyState.REVOKED}),
    PenaltyState.APPEALED: frozenset({PenaltyState.UPHELD, PenaltyState.REVOKED}),
    PenaltyState.UPHELD: frozenset(),
    PenaltyState.REVOKED: frozenset(),
}
IN_FORCE = frozenset({PenaltyState.RAISED, PenaltyState.APPEALED, PenaltyState.UPHELD})


class Streamer(Base):
    """A streamer on one content platform (the same person on two platforms is two rows, as
    the platforms keep them); ``tenant_id`` is the streamer's own tenant, when it has one."""

    __tablename__ = "streamers"
    __table_args__ = (UniqueConstraint("platform_id", "handle"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"), index=True)
    handle: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    agency: Mapped[str] = mapped_column(String(120), default="")
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveSession(Base):
    __tablename__ = "live_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12), default=SessionState.SCHEDULED.value)
    created_by: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SessionProduct(Base):
    """A product on a session's shelf, under the platform's own product id; ``sku_id`` links
    it to a hutong SKU when the merchant sells through hutong."""

    __tablename__ = "live_session_products"

    session_id: Mapped[str] = mapped_column(ForeignKey("live_sessions.id"), primary_key=True)
    product_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    sku_id: Mapped[str | None] = mapped_column(ForeignKey("skus.id"))


class Penalty(Base):
    """A platform's penalty on a streamer, with points and reason as the platform publishes
    them; it counts while in force (raised, appealed, upheld) and stops when revoked."""

    __tablename__ = "streamer_penalties"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    streamer_id: Mapped[str] = mapped_column(ForeignKey("streamers.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    points: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))  # the platform's rule, e.g. product quality
    reason: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12), default=PenaltyState.RAISED.value)
    raised_by: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PenaltyEvent(Base):
    __tablename__ = "streamer_penalty_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    penalty_id: Mapped[str] = mapped_column(ForeignKey("streamer_penalties.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(12), default="")
    to_state: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    by_tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
