"""Choosing a carrier by the seller's rule, and each carrier's measured record.

"Fastest" is not a carrier's promise but its record: among this hutong's delivered parcels to
the region, the median days from pickup to delivery (with at least ``MIN_SAMPLE`` parcels;
below that the carrier's quoted days stand in). The same record gives the on-time rate
(delivered within the days quoted at shipping) and the exception rate (parcels with a failed
delivery or an exception on their timeline), which the console shows: the article says
competition moves to service experience.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.logistics.models import CarrierRule, Shipment, TrackingEvent
from hutong.logistics.protocol import Carrier, CarrierAccount, Parcel, TrackStatus

MIN_SAMPLE = 3
MODES = ("fixed", "cheapest", "fastest", "preference")


@dataclass(frozen=True)
class Candidate:
    carrier: str
    why: str
    fee_fen: int | None = None
    days: int | None = None


@dataclass(frozen=True)
class Record:
    carrier: str
    region: str
    shipments: int
    delivered: int
    median_days: float | None
    on_time_rate: float | None
    exception_rate: float


def carrier_stats(session: Session, region: str | None = None) -> dict[str, Record]:
    """Each carrier's record, to ``region`` when given (else everywhere)."""
    query = select(Shipment).where(Shipment.waybill_no.is_not(None))
    if region is not None:
        query = query.where(Shipment.to_region == region)
    shipments = list(session.scalars(query))
    troubled = set(
        session.scalars(
            select(TrackingEvent.shipment_id).where(
                TrackingEvent.status.in_(
                    [TrackStatus.DELIVERY_FAILED.value, TrackStatus.EXCEPTION.value]
                )
            )
        )
    )
    by_carrier: dict[str, list[Shipment]] = {}
    for s in shipments:
        by_carrier.setdefault(s.carrier, []).append(s)
    records = {}
    for carrier, group in by_carrier.items():
        done = [s for s in group if s.delivered_at is not None and s.picked_up_at is not None]
        days = [
            (s.delivered_at - s.picked_up_at).total_seconds() / 86400  # type: ignore[operator]
            for s in done
        ]
        promised = [
            d <= s.promised_days for s, d in zip(done, days, strict=True) if s.promised_days
        ]
        records[carrier] = Record(
            carrier=carrier,
            region=region or "all",
            shipments=len(group),
            delivered=len(done),
            median_days=statistics.median(days) if days else None,
            on_time_rate=sum(promised) / len(promised) if promised else None,
            exception_rate=sum(s.id in troubled for s in group) / len(group),
        )
    return records


def plan(
    rule: CarrierRule | None,
    accepted: list[str],
    parcel: Parcel,
    accounts: Mapping[str, CarrierAccount],
    carriers: Mapping[str, Carrier],
    client: httpx.Client,
    stats: Mapping[str, Record],
) -> list[Candidate]:
    """The carriers to try, in order. Only carriers the platform accepts (at the order's time)
    and the seller holds an account with are ever candidates."""
    mode = rule.mode if rule else "preference"
    listed = [c for c in (rule.carriers if rule else accepted) if c in accepted]
    if mode == "fixed":
        return [Candidate(c, "fixed") for c in listed[:1]]
    if mode == "preference":
        return [Candidate(c, f"preference #{i + 1}") for i, c in enumerate(listed)]
    quotes: list[Candidate] = []
    for name in listed or accepted:
        quote = carriers[name].quote(accounts[name], parcel, client)
        if quote.ok:
            quotes.append(Candidate(name, mode, quote.fee_fen, quote.days))
    if mode == "cheapest":
        return sorted(quotes, key=lambda c: (c.fee_fen or 0, c.days or 0))

    def speed(c: Candidate) -> tuple[float, int]:
        record = stats.get(c.carrier)
        if record is not None and record.delivered >= MIN_SAMPLE and record.median_days is not None:
            return record.median_days, c.fee_fen or 0
        return float(c.days or 99), c.fee_fen or 0

    return [
        Candidate(c.carrier, f"fastest ({speed(c)[0]:.1f} d)", c.fee_fen, c.days)
        for c in sorted(quotes, key=speed)
    ]


def record_out(r: Record) -> dict[str, Any]:
    return {
        "carrier": r.carrier,
        "region": r.region,
        "shipments": r.shipments,
        "delivered": r.delivered,
        "median_days": r.median_days,
        "on_time_rate": r.on_time_rate,
        "exception_rate": r.exception_rate,
    }
