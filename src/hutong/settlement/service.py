"""A settlement pass: export the store's changes, compute charges and commissions from the
lake on an engine, book the differences in one transaction.

The pass looks back ``settle_lookback_days`` (late clicks, refunds and receipts of orders up to
then still change money); what it finds about a closed period is posted into the next open
one. Passes are serialised (a PostgreSQL advisory lock; SQLite has one writer), and idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hutong.attribution import journeys as J
from hutong.attribution.runs import campaign_terms, engine_for, lookback_days
from hutong.config import Settings
from hutong.lake.compact import SHANGHAI
from hutong.lake.engines import Engine
from hutong.lake.export import export
from hutong.settlement import compute as C
from hutong.settlement.book import Budgets, Outcome, book_charges, book_commissions
from hutong.settlement.models import AllianceAccount, AlliancePosition, CommissionRate
from hutong.store import Store
from hutong.traffic.models import Campaign

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def settlement_terms(store: Store) -> pa.Table:
    with store.reading() as session:
        rows = session.execute(
            select(
                Campaign.id,
                Campaign.tenant_id,
                Campaign.billing_model,
                Campaign.cpm_fen,
                Campaign.cpc_fen,
                Campaign.cps_rate_bp,
                Campaign.budget_fen,
            )
        ).all()
    return pa.Table.from_pylist(
        [dict(zip(C.TERMS.names, r, strict=True)) for r in rows], schema=C.TERMS
    )


def rate_table(session: Session) -> C.Shares:
    return C.Shares(
        {
            (r.platform_tenant_id, r.affiliate_id or ""): r.affiliate_share_bp
            for r in session.scalars(select(CommissionRate))
        }
    )


def alliance_parties(store: Store) -> tuple[pa.Table, pa.Table]:
    """The alliance accounts (whose, who pays) and what their positions stand for."""
    with store.reading() as session:
        accounts = [
            {
                "account_id": a.id,
                "platform": a.platform,
                "owner_id": a.owner_id,
                "payer_id": a.payer_id,
            }
            for a in session.scalars(select(AllianceAccount))
        ]
        positions = [
            {
                "account_id": p.account_id,
                "position_id": p.position_id,
                "affiliate_id": p.affiliate_id or "",
            }
            for p in session.scalars(select(AlliancePosition))
        ]
    return (
        pa.Table.from_pylist(accounts, schema=C.ALLIANCE_ACCOUNTS),
        pa.Table.from_pylist(positions, schema=C.ALLIANCE_POSITIONS),
    )


@dataclass
class Computed:
    units: pa.Table
    commissions: pa.Table
    conversions: pa.Table
    alliance_lines: pa.Table

    @property
    def orders_in_scope(self) -> list[str]:
        """Every order whose commissions this pass decides (attributed or not)."""
        return [
            *self.conversions["order_id"].to_pylist(),
            *self.alliance_lines["order_id"].to_pylist(),
        ]


def compute_all(
    engine: Engine,
    lake_dir: Path,
    campaigns: pa.Table,
    terms: pa.Table,
    shares: C.Shares,
    start: dt.date,
    end: dt.date,
    progress: Progress = _quiet,
    alliances: tuple[pa.Table, pa.Table] | None = None,
) -> Computed:
    """Everything a pass books, from the lake alone: the same on either engine."""
    progress("counting billable impressions and clicks")
    units = C.billable_units(engine, lake_dir, start, end)
    progress("joining orders to touchpoints")
    scope = J.Scope(start, end, lookback_days(campaigns))
    J.register(engine, lake_dir, campaigns, scope)
    journeys = J.journeys(engine, scope)
    conversions = J.conversions(engine, scope)
    progress("crediting under each contract's model")
    models = dict(
        zip(campaigns["campaign_id"].to_pylist(), campaigns["model"].to_pylist(), strict=True)
    )
    rows = C.commissions(journeys, conversions, terms, models, shares)
    progress("reading the alliances' order lines")
    accounts, positions = alliances or (
        C.ALLIANCE_ACCOUNTS.empty_table(),
        C.ALLIANCE_POSITIONS.empty_table(),
    )
    lines = C.alliance_lines(engine, lake_dir, accounts, positions, start, end)
    rows = pa.concat_tables([rows, C.alliance_commissions(lines, shares)])
    return Computed(units, rows, conversions, lines)


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('hutong.settlement'))"))


def settle(
    settings: Settings,
    store: Store,
    *,
    engine: str = "duckdb",
    now: dt.datetime | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """One pass: book every change in charges and commissions up to ``now``."""
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone(SHANGHAI).date()
    start, end = today - dt.timedelta(days=settings.settle_lookback_days), today + dt.timedelta(1)
    progress("exporting the store's changes to the lake")
    export(store, settings.lake_dir)
    campaigns = campaign_terms(store)
    terms = settlement_terms(store)
    with store.reading() as session:
        shares = rate_table(session)
    alliances = alliance_parties(store)
    with engine_for(engine) as eng:
        computed = compute_all(
            eng, settings.lake_dir, campaigns, terms, shares, start, end, progress, alliances
        )
    progress("booking")
    outcome = Outcome()
    by_campaign = {r["campaign_id"]: r for r in terms.to_pylist()}
    with store.transaction() as session:
        _serialise(session)
        budgets = Budgets(session, by_campaign)
        book_charges(session, computed.units, by_campaign, budgets, outcome)
        book_commissions(
            session,
            computed.commissions,
            computed.orders_in_scope,
            budgets,
            settings.settle_holding_days,
            now,
            outcome,
        )
    return {"from": start.isoformat(), "to": end.isoformat(), **outcome.as_dict()}
