"""Importing an alliance's orders by polling sliding windows over their update time.

- Each pass reads from ``polled_through - OVERLAP`` (an alliance may stamp a line's update
  late) up to ``now - LAG``, one window at a time, every page of each window, and stores the
  lines and the new ``polled_through`` in one transaction per window: a killed poller repeats
  at most the window it was in.
- One row per alliance line (unique ``(platform, order_ref)``): a line seen again is updated in
  place, and only if it changed (so overlap costs nothing downstream).
- Windows shrink when busy and grow back when quiet: a window that took more than
  ``BUSY_PAGES`` pages halves the next; one that took a single page doubles it, up to the
  alliance's limit. A window refused as too long (the alliances cut the limit during their
  promotions: Taobao from 3 hours to 20 minutes) is retried at the peak limit, then halved,
  and the pass grows no window past what was accepted (the next pass tries growing again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.ids import new_id
from hutong.sealing import Sealer
from hutong.settlement.alliances import jd, taobao
from hutong.settlement.alliances.protocol import (
    AccountRef,
    AllianceError,
    AllianceLine,
    OrderQuery,
    WindowTooLong,
)
from hutong.settlement.models import AllianceAccount, AllianceOrder
from hutong.store import Store, utcnow

QUERIES: dict[str, OrderQuery] = {q.platform: q for q in (taobao.QUERY, jd.QUERY)}
OVERLAP = dt.timedelta(minutes=5)
LAG = dt.timedelta(minutes=1)
MIN_WINDOW = dt.timedelta(minutes=1)
BUSY_PAGES = 5
MAX_PAGES = 1_000  # a window this deep is a loop, not data


@dataclass
class PollResult:
    account_id: str
    windows: int = 0
    pages: int = 0
    lines: int = 0
    changed: int = 0
    window_seconds: int = 0
    polled_through: dt.datetime | None = None
    errors: list[str] = field(default_factory=list)


def query_for(platform: str) -> OrderQuery:
    try:
        return QUERIES[platform]
    except KeyError:
        raise ValueError(f"unknown alliance {platform!r}; one of {', '.join(QUERIES)}") from None


def fetch_window(
    query: OrderQuery,
    account: AccountRef,
    start: dt.datetime,
    end: dt.datetime,
    client: httpx.Client,
) -> tuple[list[AllianceLine], int]:
    """Every line of one window, page by page; the lines and the number of pages."""
    lines: list[AllianceLine] = []
    page_no, cursor = 1, ""
    while True:
        page = query.page(account, start, end, page_no, cursor, client)
        lines.extend(page.lines)
        if not page.has_next or not page.lines:
            return lines, page_no
        if page_no >= MAX_PAGES:
            raise AllianceError(f"more than {MAX_PAGES} pages in one window")
        page_no, cursor = page_no + 1, page.cursor


_FIELDS = (
    "parent_ref",
    "item_ref",
    "position_id",
    "raw_status",
    "state",
    "amount_fen",
    "commission_fen",
    "placed_at",
    "paid_at",
    "settled_at",
    "modified_at",
)


def apply_lines(session: Session, account: AllianceAccount, lines: list[AllianceLine]) -> int:
    """Insert new lines and update changed ones; how many rows changed."""
    latest: dict[str, AllianceLine] = {}
    for line in lines:  # the same line twice in one window: its newest version
        seen = latest.get(line.order_ref)
        if seen is None or line.modified_at >= seen.modified_at:
            latest[line.order_ref] = line
    changed = 0
    refs = list(latest)
    for chunk in range(0, len(refs), 500):
        part = refs[chunk : chunk + 500]
        rows = {
            r.order_ref: r
            for r in session.scalars(
                select(AllianceOrder).where(
                    AllianceOrder.platform == account.platform, AllianceOrder.order_ref.in_(part)
                )
            )
        }
        for ref in part:
            changed += _apply(session, account, rows.get(ref), latest[ref])
    return changed


def _apply(
    session: Session, account: AllianceAccount, row: AllianceOrder | None, line: AllianceLine
) -> int:
    if row is None:
        row = AllianceOrder(
            id=new_id("alo"),
            account_id=account.id,
            platform=account.platform,
            order_ref=line.order_ref,
            confirmed_at=line.confirmed_at,
        )
        session.add(row)
    elif line.modified_at < row.modified_at:
        return 0  # an older version than the one kept (windows overlap)
    elif all(getattr(row, f) == getattr(line, f) for f in _FIELDS):
        return 0
    for name in _FIELDS:
        setattr(row, name, getattr(line, name))
    if row.confirmed_at is None or line.state not in ("confirmed", "settled"):
        row.confirmed_at = line.confirmed_at  # the first receipt time seen stays
    row.payload = line.payload
    row.updated_at = utcnow()
    return 1


def _ref(account: AllianceAccount, sealer: Sealer) -> AccountRef:
    return AccountRef({**account.settings, **sealer.unseal(account.sealed)}, account.gateway_url)


def poll_account(
    store: Store,
    sealer: Sealer,
    account_id: str,
    client: httpx.Client,
    now: dt.datetime | None = None,
    max_windows: int = 500,
) -> PollResult:
    """Catch one account up to ``now - LAG`` (at most ``max_windows`` windows per call)."""
    now = now or dt.datetime.now(dt.UTC)
    result = PollResult(account_id)
    with store.reading() as session:
        account = session.get(AllianceAccount, account_id)
        if account is None:
            raise ValueError(f"alliance account {account_id} not found")
        query, ref = query_for(account.platform), _ref(account, sealer)
        start = account.polled_through - OVERLAP
        window = dt.timedelta(seconds=account.window_seconds)
    upto = now - LAG
    ceiling = query.max_window  # lowered, for the rest of this pass, by a refusal
    while start < upto and result.windows < max_windows:
        end = min(start + window, upto)
        try:
            lines, pages = fetch_window(query, ref, start, end, client)
        except WindowTooLong as exc:
            shorter = min(window, query.peak_window) if window > query.peak_window else window / 2
            if shorter < MIN_WINDOW:
                result.errors.append(str(exc))
                break
            window = ceiling = shorter
            continue
        except AllianceError as exc:
            result.errors.append(str(exc))
            break
        window = _next_window(window, pages, ceiling)
        with store.transaction() as session:
            account = session.get(AllianceAccount, account_id, with_for_update=True)
            assert account is not None
            result.changed += apply_lines(session, account, lines)
            account.polled_through = max(account.polled_through, end)
            account.window_seconds = int(window.total_seconds())
            account.last_error = ""
        result.windows, result.pages, result.lines = (
            result.windows + 1,
            result.pages + pages,
            result.lines + len(lines),
        )
        start = end
    _finish(store, account_id, result, window)
    return result


def _next_window(window: dt.timedelta, pages: int, ceiling: dt.timedelta) -> dt.timedelta:
    if pages > BUSY_PAGES:
        return max(MIN_WINDOW, window / 2)
    if pages <= 1:
        return min(ceiling, window * 2)
    return window


def _finish(store: Store, account_id: str, result: PollResult, window: dt.timedelta) -> None:
    with store.transaction() as session:
        account = session.get(AllianceAccount, account_id)
        assert account is not None
        account.window_seconds = int(window.total_seconds())
        if result.errors:
            account.last_error = result.errors[-1][:2000]
        result.window_seconds = account.window_seconds
        result.polled_through = account.polled_through


def poll_all(store: Store, sealer: Sealer, client: httpx.Client) -> int:
    """Every account, once (the worker's job); lines changed."""
    with store.reading() as session:
        ids = list(session.scalars(select(AllianceAccount.id).order_by(AllianceAccount.id)))
    return sum(poll_account(store, sealer, i, client).changed for i in ids)
