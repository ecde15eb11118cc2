"""Affiliate alliances that only offer their orders by polling (Taobao Alliance, JD Union):
one module per alliance behind one protocol, and what they share.

An alliance answers "the order lines whose <time> falls in [start, end]", a page at a time,
with a limit on how long a window may be (Taobao: 3 hours, 20 minutes during its promotions;
JD: 1 hour). The poller (``poller``) walks windows over *update* time, so a line that moves
(paid → receipt confirmed → settled, or invalid) comes back and is applied in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# What hutong makes of an alliance's status codes (each module maps its own).
STATES = ("unpaid", "deposit", "paid", "confirmed", "settled", "invalid")


class AllianceError(Exception):
    """The alliance refused the call; ``retry`` says whether the same call may succeed later."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class WindowTooLong(AllianceError):
    """The window was longer than the alliance allows now (say, during a promotion)."""


@dataclass(frozen=True)
class AccountRef:
    settings: Mapping[str, str]
    gateway_url: str


@dataclass(frozen=True)
class AllianceLine:
    """One order line as hutong keeps it, whatever the alliance's spelling."""

    order_ref: str
    parent_ref: str
    item_ref: str
    position_id: str
    raw_status: str
    state: str
    amount_fen: int
    commission_fen: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    settled_at: dt.datetime | None
    modified_at: dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    lines: list[AllianceLine]
    has_next: bool
    cursor: str = ""  # what the next page's call carries (Taobao's position_index)


class OrderQuery(Protocol):
    platform: str
    settings_required: tuple[str, ...]
    settings_secret: tuple[str, ...]
    max_window: dt.timedelta  # the alliance's limit on a window, normally
    peak_window: dt.timedelta  # its limit during its promotions

    def page(
        self,
        account: AccountRef,
        start: dt.datetime,
        end: dt.datetime,
        page_no: int,
        cursor: str,
        client: httpx.Client,
    ) -> Page:
        """One page of the lines updated in [start, end]."""
        ...


def fen_of(value: Any) -> int:
    """An alliance's yuan amount ('12.50', 12.5 read as Decimal, or absent) in fen, exactly:
    a value with more than two decimals is an error, never rounded silently."""
    if value is None or value == "":
        return 0
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation as exc:
        raise AllianceError(f"not an amount: {value!r}") from exc
    if amount != amount.to_integral_value():
        raise AllianceError(f"amount with fractions of a fen: {value!r}")
    return int(amount)


def when(value: Any) -> dt.datetime | None:
    """'YYYY-MM-DD HH:MM:SS' in Beijing time (both alliances' spelling) as UTC; blank is None."""
    if not value:
        return None
    try:
        return dt.datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise AllianceError(f"not a time: {value!r}") from exc


def spelled(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)
