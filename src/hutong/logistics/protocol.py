"""One protocol every carrier adapter implements, the plain data it speaks, and hutong's one
tracking vocabulary.

Adapters are Karrio-style: pure functions build and read the carrier's messages and map its
status codes to ``TrackStatus`` (keeping the carrier's own code and text on every event); the
I/O methods take an ``httpx.Client`` and return failures as data. ``read_push`` raises
``PushRefused`` for anything that must not be recorded. An answer that is not what the
carrier's API documents is a failure to read, never an outcome (``hutong.answers``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx


class TrackStatus(enum.StrEnum):
    """One vocabulary for every carrier (after Karrio's, AfterShip's and Kuaidi100's)."""

    INFO_RECEIVED = "info_received"  # waybill made, nothing picked up yet
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"  # in a locker or a 驿站
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    EXCEPTION = "exception"  # problem parcel (疑难件), damage, hold
    RETURNED = "returned"  # on its way back, or back with the sender
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


TERMINAL = frozenset({TrackStatus.DELIVERED, TrackStatus.RETURNED, TrackStatus.CANCELLED})
# The order a parcel normally goes through; a later event with a lower rank (a scan arriving
# late) is kept on the timeline but does not move the shipment's status back.
RANK = {
    TrackStatus.INFO_RECEIVED: 0,
    TrackStatus.PICKED_UP: 1,
    TrackStatus.IN_TRANSIT: 2,
    TrackStatus.EXCEPTION: 2,
    TrackStatus.UNKNOWN: 2,
    TrackStatus.OUT_FOR_DELIVERY: 3,
    TrackStatus.READY_FOR_PICKUP: 3,
    TrackStatus.DELIVERY_FAILED: 3,
    TrackStatus.DELIVERED: 4,
    TrackStatus.RETURNED: 4,
    TrackStatus.CANCELLED: 4,
}


@dataclass(frozen=True)
class CarrierAccount:
    id: str
    carrier: str
    customer_key: str  # how the carrier names the account (partnerID, appKey, customer code)
    settings: Mapping[str, str]
    gateway_url: str
    push_url: str


@dataclass(frozen=True)
class Parcel:
    reference: str  # hutong's shipment id: the carrier's "order id"
    weight_g: int
    from_region: str
    to_region: str  # province
    receiver: Mapping[str, str]  # name, phone, province, city, district, address
    declared_value_fen: int = 0


@dataclass(frozen=True)
class Quote:
    ok: bool
    fee_fen: int = 0
    days: int = 0
    error: str = ""


@dataclass(frozen=True)
class Waybill:
    ok: bool
    waybill_no: str = ""
    error: str = ""
    refused: bool = False  # the carrier said no (out of area, ...): try the next one


@dataclass(frozen=True)
class Scan:
    """One tracking event as the carrier reported it, mapped to hutong's vocabulary."""

    waybill_no: str
    status: TrackStatus
    code: str  # the carrier's own status code
    text: str  # the carrier's own words
    location: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class CarrierRefused(ValueError):
    """The carrier answered and said no (its own error code and words): out of area, too late.

    Only this makes a waybill ``refused`` (the next carrier is tried). An answer that cannot be
    read is not a refusal: the carrier may have taken the parcel (``hutong.answers``).
    """


class PushRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


AccountLookup = Callable[[str], "CarrierAccount | None"]


class Carrier(Protocol):
    name: str
    settings_required: tuple[str, ...]
    settings_secret: tuple[str, ...]
    customer_key_setting: str

    def quote(self, account: CarrierAccount, parcel: Parcel, client: httpx.Client) -> Quote: ...

    def create_waybill(
        self, account: CarrierAccount, parcel: Parcel, client: httpx.Client
    ) -> Waybill: ...

    def cancel(self, account: CarrierAccount, waybill_no: str, client: httpx.Client) -> bool:
        """True if the carrier cancelled (intercepted) it; False if too late or refused."""
        ...

    def track(
        self, account: CarrierAccount, waybill_no: str, client: httpx.Client
    ) -> list[Scan] | None:
        """Every event the carrier has for the waybill (None: the carrier did not answer)."""
        ...

    def read_push(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup
    ) -> tuple[CarrierAccount, list[Scan]]:
        """Verify and parse a pushed batch of events; PushRefused if it must be ignored."""
        ...

    def reply(self, accepted: bool) -> Reply: ...
