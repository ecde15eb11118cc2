"""What the store keeps of attribution: the runs (their credits live in the lake)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class AttributionRun(Base):
    """One attribution of the orders placed in a period under several models, by one engine.

    The credits, one row per touchpoint per order with a column per model, are written to
    ``lake/attribution/run=<id>/``; this row says what was asked and what came out.
    """

    __tablename__ = "attribution_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    engine: Mapped[str] = mapped_column(String(16))
    models: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)  # exclusive
    state: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed
    orders: Mapped[int] = mapped_column(Integer, default=0)
    attributed_orders: Mapped[int] = mapped_column(Integer, default=0)
    touchpoints: Mapped[int] = mapped_column(BigInteger, default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    attributed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    by_tier: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    markov_effects: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
