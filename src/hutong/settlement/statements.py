"""Statements: one party's lines in one period, with the totals they make, as data, CSV and
XLSX. The totals are the ledger's own sums for the party in the period, so a statement always
reconciles with the account balances; a closed period's statement never changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hutong.money import yuan
from hutong.settlement.ledger import ACCOUNTS, parse_period
from hutong.settlement.models import JournalEntry, JournalLine, Period

COLUMNS = ("date", "kind", "account", "campaign_id", "order_id", "memo", "amount_fen", "amount")


@dataclass
class Statement:
    tenant_id: str
    period_id: str
    state: str
    opening_fen: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def net_fen(self) -> int:
        return sum(self.totals.values())

    @property
    def closing_fen(self) -> int:
        return self.opening_fen + self.net_fen


def statement(session: Session, tenant_id: str, period_id: str) -> Statement:
    parse_period(period_id)
    found = session.get(Period, period_id)  # a month nothing happened in: an empty statement
    opening = session.scalar(
        select(func.coalesce(func.sum(JournalLine.amount_fen), 0)).where(
            JournalLine.tenant_id == tenant_id, JournalLine.period_id < period_id
        )
    )
    rows = session.execute(
        select(JournalLine, JournalEntry)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalLine.tenant_id == tenant_id, JournalLine.period_id == period_id)
        .order_by(JournalEntry.occurred_on, JournalEntry.created_at, JournalLine.id)
    ).all()
    result = Statement(tenant_id, period_id, found.state if found else "open", int(opening or 0))
    for line, entry in rows:
        result.lines.append(
            {
                "date": entry.occurred_on,
                "kind": entry.kind,
                "account": line.account,
                "campaign_id": line.campaign_id or "",
                "order_id": line.order_id or "",
                "memo": entry.memo,
                "amount_fen": line.amount_fen,
                "amount": yuan(line.amount_fen, grouping=False),
            }
        )
        result.totals[line.account] = result.totals.get(line.account, 0) + line.amount_fen
    return result


def _summary_rows(s: Statement) -> list[list[Any]]:
    rows: list[list[Any]] = [["opening balance", "", s.opening_fen, yuan(s.opening_fen, False)]]
    for account in ACCOUNTS:
        if account in s.totals:
            fen = s.totals[account]
            rows.append([account, ACCOUNTS[account], fen, yuan(fen, False)])
    rows.append(["net for the period", "", s.net_fen, yuan(s.net_fen, False)])
    rows.append(["closing balance", "", s.closing_fen, yuan(s.closing_fen, False)])
    return rows


def to_csv(s: Statement) -> bytes:
    """The lines, then the totals; UTF-8 with a BOM so spreadsheet programs read Chinese."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"hutong statement {s.period_id} ({s.state})", s.tenant_id])
    writer.writerow(COLUMNS)
    for line in s.lines:
        writer.writerow([_cell(line[c]) for c in COLUMNS])
    writer.writerow([])
    writer.writerow(["total", "description", "amount_fen", "amount"])
    writer.writerows(_summary_rows(s))
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(s: Statement) -> bytes:
    """Two sheets: the lines, and the totals (amounts as integer fen and as yuan text)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "lines"
    sheet.append(list(COLUMNS))
    for line in s.lines:
        sheet.append([_cell(line[c]) for c in COLUMNS])
    totals = book.create_sheet("totals")
    totals.append(["statement", f"{s.period_id} ({s.state})", s.tenant_id, ""])
    totals.append(["total", "description", "amount_fen", "amount"])
    for row in _summary_rows(s):
        totals.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
