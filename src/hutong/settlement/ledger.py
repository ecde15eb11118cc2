"""The double-entry ledger: posting entries whose lines sum to zero, into open periods only.

Periods are calendar months in Asia/Shanghai. An entry is posted into the period of the day it
is about, or, if that period is closed, into the first open period after it: a refund or a
late event never edits a closed period, it adjusts the next open one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hutong.errors import Conflict, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.lake.compact import SHANGHAI
from hutong.settlement.models import JournalEntry, JournalLine, Period
from hutong.store import utcnow

# what each account holds, from the tenant's side (positive: it owes; negative: it is owed)
ACCOUNTS = {
    "traffic_cost": "CPM and CPC a buyer of traffic owes",
    "traffic_income": "CPM and CPC a content platform earns",
    "cps_accrued": "CPS a buyer owes for orders not yet settled",
    "cps_payable": "CPS a buyer owes for settled orders",
    "commission_pending": "commission on orders not yet settled (estimated, confirmed, held)",
    "commission_payable": "commission settled: due to the payee",
}


class PeriodClosed(Conflict):
    code = "period_closed"


class PeriodNotOver(Conflict):
    code = "period_not_over"


@dataclass(frozen=True)
class Line:
    tenant_id: str
    account: str
    amount_fen: int
    campaign_id: str | None = None
    order_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def period_id(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_period(value: str) -> tuple[dt.date, dt.date]:
    """'2024-11' -> (2024-11-01, 2024-12-01); InvalidInput for anything else."""
    try:
        year, month = (int(p) for p in value.split("-"))
        start = dt.date(year, month, 1)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a period (YYYY-MM)") from exc
    if len(value) != 7:
        raise InvalidInput(f"{value!r} is not a period (YYYY-MM)")
    return start, next_month(start)


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def shanghai_today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def period(session: Session, pid: str, *, create: bool = True) -> Period:
    found = session.get(Period, pid)
    if found is None:
        if not create:
            raise NotFound(f"period {pid} not found")
        parse_period(pid)
        found = Period(id=pid, state="open")
        session.add(found)
        session.flush()
    return found


def open_period_for(session: Session, day: dt.date) -> Period:
    """The period of ``day`` if open, else the first open one after it."""
    start = dt.date(day.year, day.month, 1)
    while True:
        found = period(session, period_id(start))
        if found.state == "open":
            return found
        start = next_month(start)


def post(
    session: Session,
    kind: str,
    ref: str,
    occurred_on: dt.date,
    lines: Iterable[Line],
    memo: str = "",
) -> JournalEntry | None:
    """Post one entry (None if ``ref`` was posted before). Lines of zero are dropped; the rest
    must sum to zero, or nothing is posted (ValueError: a bug, never bad input)."""
    kept = [line for line in lines if line.amount_fen != 0]
    if sum(line.amount_fen for line in kept) != 0:
        raise ValueError(f"unbalanced entry {ref}: {kept}")
    for line in kept:
        if line.account not in ACCOUNTS:
            raise ValueError(f"unknown account {line.account}")
    if not kept or session.scalar(select(JournalEntry.id).where(JournalEntry.ref == ref)):
        return None
    target = open_period_for(session, occurred_on)
    entry = JournalEntry(
        id=new_id("jen"),
        period_id=target.id,
        kind=kind,
        ref=ref,
        occurred_on=occurred_on,
        memo=memo,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    session.add_all(
        JournalLine(
            entry_id=entry.id,
            period_id=target.id,
            tenant_id=line.tenant_id,
            account=line.account,
            amount_fen=line.amount_fen,
            campaign_id=line.campaign_id,
            order_id=line.order_id,
            detail=line.detail,
        )
        for line in kept
    )
    return entry


def close(session: Session, pid: str, today: dt.date | None = None) -> Period:
    """Close a period whose month is over; closing twice is a no-op."""
    _, end = parse_period(pid)
    if (today or shanghai_today()) < end:
        raise PeriodNotOver(f"period {pid} runs until {end.isoformat()}; close it after that")
    found = period(session, pid)
    if found.state == "open":
        found.state = "closed"
        found.closed_at = utcnow()
    return found


def balances(
    session: Session, *, tenant_id: str | None = None, period_id: str | None = None
) -> dict[tuple[str, str], int]:
    """Sum of lines per (tenant, account), for one tenant and/or one period."""
    query = select(JournalLine.tenant_id, JournalLine.account, func.sum(JournalLine.amount_fen))
    if tenant_id is not None:
        query = query.where(JournalLine.tenant_id == tenant_id)
    if period_id is not None:
        query = query.where(JournalLine.period_id == period_id)
    out: dict[tuple[str, str], int] = defaultdict(int)
    for tenant, account, total in session.execute(
        query.group_by(JournalLine.tenant_id, JournalLine.account)
    ):
        out[(tenant, account)] = int(total or 0)
    return dict(out)


def total(session: Session) -> int:
    """The whole ledger's sum: zero, always."""
    return int(session.scalar(select(func.coalesce(func.sum(JournalLine.amount_fen), 0))) or 0)
