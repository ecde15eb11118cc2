"""Booking what ``compute`` found: charges and commissions brought up to date in the store, and
every change in money posted to the ledger as one balanced entry.

A pass is idempotent: each row remembers what the ledger holds for it (``booked_fen``) and
only the difference is posted, under a ``ref`` naming the change, so a second pass over the
same lake posts nothing. Budgets cap spending: an increase is booked only up to what is left
of the campaign's budget (the rest is booked by a later pass if the budget grows).

Commission states (the alliances' estimated → confirmed → settled, plus invalid and held):

- **estimated** when the order is paid (a presale: when its final payment lands);
- **confirmed** when the buyer confirms receipt; it settles ``holding_days`` later;
- **held** instead of settled while a trust policy holds the payee's money;
- **settled**: the pending commission becomes payable (a settlement entry);
- **invalid** when the order is refunded in full or cancelled: the booked money is reversed
  (a clawback if it had settled). A partial refund lowers the commission the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hutong.ids import new_id
from hutong.lake.compact import SHANGHAI
from hutong.settlement.compute import charge_fen
from hutong.settlement.ledger import Line, open_period_for, post
from hutong.settlement.models import Charge, Commission, PayeeHold
from hutong.store import utcnow

INVALID_ORDER_STATES = frozenset({"refunded", "cancelled"})
EPOCH = dt.date(1970, 1, 1)


@dataclass
class Outcome:
    entries: int = 0
    charged_fen: int = 0
    capped_fen: int = 0
    commissions: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "charged_fen": self.charged_fen,
            "capped_fen": self.capped_fen,
            "commissions": dict(self.commissions),
        }


class Budgets:
    """What each campaign may still spend, consumed as the pass books."""

    def __init__(self, session: Session, terms: dict[str, dict[str, Any]]) -> None:
        spent: dict[str, int] = defaultdict(int)
        for campaign, total in session.execute(
            select(Charge.campaign_id, func.sum(Charge.booked_fen)).group_by(Charge.campaign_id)
        ):
            spent[campaign] += int(total or 0)
        for campaign, total in session.execute(
            select(Commission.campaign_id, func.sum(Commission.booked_fen)).group_by(
                Commission.campaign_id
            )
        ):
            spent[campaign] += int(total or 0)
        self.left = {c: int(t["budget_fen"]) - spent[c] for c, t in terms.items()}

    def take(self, campaign: str, wanted: int) -> int:
        """How much of an increase of ``wanted`` may be booked (all of a decrease). Money with
        no campaign budget here (an alliance's commissions, capped by the alliance) is not
        capped."""
        if campaign not in self.left:
            return wanted
        if wanted <= 0:
            self.left[campaign] = self.left.get(campaign, 0) - wanted
            return wanted
        granted = max(0, min(wanted, self.left.get(campaign, 0)))
        self.left[campaign] = self.left.get(campaign, 0) - granted
        return granted


def _day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def _posted(outcome: Outcome, entry: object) -> None:
    if entry is not None:
        outcome.entries += 1


def book_charges(
    session: Session,
    units: pa.Table,
    terms: dict[str, dict[str, Any]],
    budgets: Budgets,
    outcome: Outcome,
) -> None:
    """Bring each (campaign, placement, day, kind) charge up to the units counted."""
    for row in sorted(units.to_pylist(), key=lambda r: (r["day"], r["campaign_id"])):
        t = terms.get(row["campaign_id"])
        if t is None or t["billing_model"] != row["kind"]:
            continue  # a CPS campaign's clicks are not charged; nor a CPC one's impressions
        day = _day(row["day"])
        key = (row["campaign_id"], row["placement_id"], day, row["kind"])
        charge = session.get(Charge, key)
        if charge is None:
            charge = Charge(
                campaign_id=key[0],
                placement_id=key[1],
                day=day,
                kind=key[3],
                buyer_id=t["buyer_id"],
                payee_id=row["payee_id"],
                booked_fen=0,
            )
            session.add(charge)
        charge.units = int(row["units"])
        charge.owed_fen = charge_fen(row["kind"], charge.units, t)
        delta = budgets.take(charge.campaign_id, charge.owed_fen - charge.booked_fen)
        outcome.capped_fen += charge.owed_fen - charge.booked_fen - delta
        if delta:
            before = charge.booked_fen
            _posted(
                outcome,
                post(
                    session,
                    "charge" if before == 0 else "adjustment",
                    f"charge:{charge.campaign_id}:{charge.placement_id}:{day}:{charge.kind}:"
                    f"{before}>{before + delta}",
                    day,
                    [
                        Line(charge.buyer_id, "traffic_cost", delta, charge.campaign_id),
                        Line(charge.payee_id, "traffic_income", -delta, charge.campaign_id),
                    ],
                    memo=f"{charge.units} {charge.kind.upper()} units on {charge.placement_id}",
                ),
            )
            charge.booked_fen = before + delta
            outcome.charged_fen += delta
        charge.updated_at = utcnow()


def _ms(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def _shanghai_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def book_commissions(
    session: Session,
    rows: pa.Table,
    orders_in_scope: list[str],
    budgets: Budgets,
    holding_days: int,
    now: dt.datetime,
    outcome: Outcome,
) -> None:
    """Bring every commission of the orders in scope up to date: money, then state."""
    held = {h.tenant_id: h.reason for h in session.scalars(select(PayeeHold))}
    existing: dict[tuple[str, str, str], Commission] = {}
    for chunk in range(0, len(orders_in_scope), 500):
        ids = orders_in_scope[chunk : chunk + 500]
        for found in session.scalars(select(Commission).where(Commission.order_id.in_(ids))):
            existing[(found.order_id, found.touch_id, found.payee_id)] = found
    seen: set[tuple[str, str, str]] = set()
    for row in rows.to_pylist():
        key = (row["order_id"], row["touch_id"], row["payee_id"])
        seen.add(key)
        c = existing.get(key)
        if c is None:
            paid_at = _ms(row["paid_ms"])
            assert paid_at is not None
            c = Commission(
                id=new_id("com"),
                order_id=key[0],
                touch_id=key[1],
                payee_id=key[2],
                campaign_id=row["campaign_id"],
                buyer_id=row["buyer_id"],
                role=row["role"],
                paid_at=paid_at,
                state="estimated",
                booked_fen=0,
                settled_fen=0,
                source=row.get("source") or "hutong",
            )
            session.add(c)
            existing[key] = c
        c.model, c.credit_fen = row["model"], int(row["credit_fen"])
        c.rate_bp, c.share_bp = int(row["rate_bp"]), int(row["share_bp"])
        invalid = row["state"] in INVALID_ORDER_STATES
        c.owed_fen = 0 if invalid else int(row["owed_fen"])
        completed = _ms(row["completed_ms"])
        if completed is not None and c.confirmed_at is None:
            c.confirmed_at = completed
            c.settle_after = completed + dt.timedelta(days=holding_days)
        _book_commission(session, c, budgets, outcome, invalid)
        _advance(session, c, held, now, outcome)
    for key, c in existing.items():  # no longer attributed (say, its click turned out a bot's)
        if key not in seen:
            c.owed_fen = 0
            _book_commission(session, c, budgets, outcome, True)
            _advance(session, c, held, now, outcome)


def _book_commission(
    session: Session, c: Commission, budgets: Budgets, outcome: Outcome, invalid: bool
) -> None:
    delta = budgets.take(c.campaign_id, c.owed_fen - c.booked_fen)
    outcome.capped_fen += c.owed_fen - c.booked_fen - delta
    if delta:
        before = c.booked_fen
        settled = c.state == "settled"
        if settled:  # settled money moves straight between the payable accounts
            kind = "clawback" if delta < 0 else "adjustment"
            lines = [
                Line(c.buyer_id, "cps_payable", delta, c.campaign_id, c.order_id),
                Line(c.payee_id, "commission_payable", -delta, c.campaign_id, c.order_id),
            ]
            c.settled_fen += delta
        else:
            kind = "commission" if before == 0 else ("reversal" if delta < 0 else "adjustment")
            lines = [
                Line(c.buyer_id, "cps_accrued", delta, c.campaign_id, c.order_id),
                Line(c.payee_id, "commission_pending", -delta, c.campaign_id, c.order_id),
            ]
        _posted(
            outcome,
            post(
                session,
                kind,
                f"commission:{c.order_id}:{c.touch_id}:{c.payee_id}:{before}>{before + delta}",
                _shanghai_day(c.paid_at),
                lines,
                memo=f"{c.role} commission, {c.model}, {c.rate_bp} bp of {c.credit_fen} fen",
            ),
        )
        c.booked_fen = before + delta
    if invalid and c.booked_fen == 0:
        c.state = "invalid"


def _advance(
    session: Session, c: Commission, held: dict[str, str], now: dt.datetime, outcome: Outcome
) -> None:
    if c.state == "invalid" and c.owed_fen > 0:
        c.state = "estimated"  # attributed again
    if c.state == "estimated" and c.confirmed_at is not None:
        c.state = "confirmed"
    if c.state in ("confirmed", "held") and c.settle_after is not None and now >= c.settle_after:
        if c.payee_id in held:
            c.state, c.hold_reason = "held", held[c.payee_id]
        else:
            _settle(session, c, now, outcome)
    c.updated_at = utcnow()
    outcome.commissions[c.state] += 1


def _settle(session: Session, c: Commission, now: dt.datetime, outcome: Outcome) -> None:
    """Pending becomes payable: the buyer's accrual and the payee's pending move over."""
    amount = c.booked_fen - c.settled_fen
    today = _shanghai_day(now)
    _posted(
        outcome,
        post(
            session,
            "settlement",
            f"settle:{c.order_id}:{c.touch_id}:{c.payee_id}:{c.settled_fen}>{c.booked_fen}",
            today,
            [
                Line(c.buyer_id, "cps_accrued", -amount, c.campaign_id, c.order_id),
                Line(c.buyer_id, "cps_payable", amount, c.campaign_id, c.order_id),
                Line(c.payee_id, "commission_pending", amount, c.campaign_id, c.order_id),
                Line(c.payee_id, "commission_payable", -amount, c.campaign_id, c.order_id),
            ],
            memo=f"{c.role} commission settled",
        ),
    )
    c.settled_fen = c.booked_fen
    c.state, c.hold_reason = "settled", ""
    c.settled_period = open_period_for(session, today).id
