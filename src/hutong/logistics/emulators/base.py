"""What every carrier emulator shares: its parcels, their journey, prices, and pushing events.

A parcel's journey is driven from outside, as a test or the demo wants it:
``POST /_emulator/advance/{waybill}?to=<step>`` adds the events up to that step (picked_up,
in_transit, arrived, out_for_delivery, locker, delivered, failed, exception, returned) and
pushes them in the carrier's format; ``/_emulator/repush/{waybill}`` pushes the whole history
again (a full re-push), ``/_emulator/mute`` stops pushing (so only polling finds events).
Each carrier emulator maps the steps to its own codes and words.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException

from hutong.emulation import Delivery, Notifier

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
STEPS = (
    "picked_up",
    "in_transit",
    "arrived",
    "out_for_delivery",
    "locker",
    "delivered",
    "failed",
    "exception",
    "returned",
)
JOURNEY = ("picked_up", "in_transit", "arrived", "out_for_delivery", "delivered")

ZONES = {
    "east": ("上海", "江苏", "浙江", "安徽"),
    "south": ("广东", "广西", "福建", "海南"),
    "north": ("北京", "天津", "河北", "山东", "山西", "内蒙古"),
    "central": ("湖北", "湖南", "河南", "江西"),
    "southwest": ("四川", "重庆", "贵州", "云南", "西藏"),
    "northwest": ("陕西", "甘肃", "青海", "宁夏", "新疆"),
    "northeast": ("辽宁", "吉林", "黑龙江"),
}


def zone_of(region: str) -> str:
    for zone, provinces in ZONES.items():
        if any(region.startswith(p) for p in provinces):
            return zone
    return "other"


def distance(from_region: str, to_region: str) -> int:
    """0 within a province, 1 within a zone, 2 across zones."""
    if from_region[:2] == to_region[:2]:
        return 0
    return 1 if zone_of(from_region) == zone_of(to_region) else 2


@dataclass(frozen=True)
class Tariff:
    """A carrier's emulated price and promise: first kg, each further kg, days by distance."""

    first_kg_fen: tuple[int, int, int]
    extra_kg_fen: tuple[int, int, int]
    days: tuple[int, int, int]
    serves: frozenset[str] = frozenset()  # zones it refuses to serve, when not empty: only these

    def price(self, from_region: str, to_region: str, weight_g: int) -> tuple[int, int] | None:
        """Fee and days, or None outside the area served (any place that is not a province)."""
        zone = zone_of(to_region)
        if zone == "other" or (self.serves and zone not in self.serves):
            return None
        d = distance(from_region, to_region)
        extra_kg = max(0, -(-weight_g // 1000) - 1)
        return self.first_kg_fen[d] + extra_kg * self.extra_kg_fen[d], self.days[d]


@dataclass
class EmuParcel:
    customer_key: str
    waybill_no: str
    reference: str
    from_region: str
    to_region: str
    push_url: str
    events: list[tuple[str, dt.datetime, str]] = field(default_factory=list)  # step, at, place
    cancelled: bool = False
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def picked_up(self) -> bool:
        return bool(self.events)


class CarrierLedger:
    def __init__(self, waybill_format: Callable[[], str]) -> None:
        self.parcels: dict[str, EmuParcel] = {}
        self.by_reference: dict[str, str] = {}
        self.lock = threading.Lock()
        self.new_waybill = waybill_format
        self.muted = False
        self.push_urls: dict[str, str] = {}  # customer -> where its pushes go (subscription)

    def create(
        self, customer_key: str, reference: str, from_region: str, to_region: str, push_url: str
    ) -> EmuParcel:
        """Idempotent by the merchant's reference: the same order gets the same waybill."""
        with self.lock:
            known = self.by_reference.get(f"{customer_key}:{reference}")
            if known is not None:
                return self.parcels[known]
            parcel = EmuParcel(
                customer_key,
                self.new_waybill(),
                reference,
                from_region,
                to_region,
                push_url or self.push_urls.get(customer_key, ""),
            )
            self.parcels[parcel.waybill_no] = parcel
            self.by_reference[f"{customer_key}:{reference}"] = parcel.waybill_no
            return parcel

    def get(self, waybill_no: str) -> EmuParcel:
        parcel = self.parcels.get(waybill_no)
        if parcel is None:
            raise HTTPException(404, f"no waybill {waybill_no}")
        return parcel

    def cancel(self, waybill_no: str) -> bool:
        with self.lock:
            parcel = self.parcels.get(waybill_no)
            if parcel is None or parcel.picked_up:
                return False  # picked up: too late to intercept this way
            parcel.cancelled = True
            return True

    def advance(self, waybill_no: str, to: str) -> list[tuple[str, dt.datetime, str]]:
        """Add the journey's events up to ``to`` (or the one event ``to`` off the journey)."""
        if to not in STEPS:
            raise HTTPException(422, f"step must be one of {', '.join(STEPS)}")
        with self.lock:
            parcel = self.get(waybill_no)
            if parcel.cancelled:
                raise HTTPException(409, "cancelled")
            done = {step for step, _, _ in parcel.events}
            if to in JOURNEY:
                wanted = [s for s in JOURNEY[: JOURNEY.index(to) + 1] if s not in done]
            else:
                wanted = [to]
            added = []
            now = dt.datetime.now(dt.UTC)
            for i, step in enumerate(wanted):
                place = (
                    parcel.from_region if step in ("picked_up", "in_transit") else parcel.to_region
                )
                event = (step, now + dt.timedelta(seconds=i), place)
                parcel.events.append(event)
                added.append(event)
            return added


def new_digits(prefix: str, count: int) -> Callable[[], str]:
    return lambda: prefix + "".join(secrets.choice("0123456789") for _ in range(count))


def control_router(
    ledger: CarrierLedger,
    notifier: Notifier,
    push: Callable[[EmuParcel, list[tuple[str, dt.datetime, str]]], Delivery | None],
) -> APIRouter:
    router = APIRouter(prefix="/_emulator", tags=["emulator"])

    def send(parcel: EmuParcel, events: list[tuple[str, dt.datetime, str]]) -> None:
        if events and not ledger.muted and parcel.push_url:
            delivery = push(parcel, events)
            if delivery is not None:
                notifier.send(delivery)

    @router.post("/advance/{waybill_no}")
    def advance(waybill_no: str, to: str) -> dict[str, Any]:
        added = ledger.advance(waybill_no, to)
        send(ledger.get(waybill_no), added)
        return {"waybill_no": waybill_no, "added": [s for s, _, _ in added]}

    @router.post("/repush/{waybill_no}")
    def repush(waybill_no: str) -> dict[str, Any]:
        parcel = ledger.get(waybill_no)
        send(parcel, list(parcel.events))
        return {"waybill_no": waybill_no, "events": len(parcel.events)}

    @router.post("/push-url")
    def push_url(customer: str, url: str) -> dict[str, str]:
        """Where the customer's pushes go: the subscription a merchant sets up with the carrier."""
        ledger.push_urls[customer] = url
        for parcel in ledger.parcels.values():
            if parcel.customer_key == customer and not parcel.push_url:
                parcel.push_url = url
        return {"customer": customer, "url": url}

    @router.post("/mute")
    def mute(on: bool = True) -> dict[str, bool]:
        ledger.muted = on
        return {"muted": on}

    @router.get("/state")
    def state() -> dict[str, Any]:
        return {
            "parcels": {
                w: {
                    "reference": p.reference,
                    "cancelled": p.cancelled,
                    "events": [s for s, _, _ in p.events],
                }
                for w, p in ledger.parcels.items()
            },
            "deliveries": [
                {"label": d.label, "attempts": d.attempts, "done": d.done}
                for d in notifier.deliveries
            ],
        }

    return router


def local(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
