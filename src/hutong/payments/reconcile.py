"""Three-way reconciliation of one day of one provider account: the provider's statement, our
records, and what the selling platform reports (its commission and the split included).

Every payment and refund is keyed by its merchant reference (``out_trade_no`` /
``out_refund_no``), which all three sides know. A line is *matched* when every side that must
have it has it with the same amount, the platform's provider fee equals the statement's, and the
platform's split adds up (net = amount - provider fee - commission, signs as lines carry them).
Anything else is listed as a mismatch with all three sides' figures, never silently dropped.
Days are Asia/Shanghai calendar days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.ids import new_id
from hutong.payments import accounts
from hutong.payments.models import Payment, ProviderAccount, Reconciliation, Refund
from hutong.payments.protocol import PaymentStatus, RefundStatus, StatementLine
from hutong.payments.service import Payments
from hutong.tenants.principal import Principal

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Side:
    kind: str
    amount_fen: int
    fee_fen: int = 0
    commission_fen: int = 0
    net_fen: int | None = None
    order_id: str = ""


@dataclass
class Result:
    day: dt.date
    matched: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), SHANGHAI)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def ours(session: Session, account: ProviderAccount, day: dt.date) -> dict[str, Side]:
    """Payments and refunds that succeeded on ``day`` through ``account``, by reference."""
    start, end = day_bounds(day)
    found: dict[str, Side] = {}
    payments = session.scalars(
        select(Payment).where(
            Payment.account_id == account.id,
            Payment.state == PaymentStatus.SUCCEEDED.value,
            Payment.succeeded_at >= start,
            Payment.succeeded_at < end,
        )
    )
    for p in payments:
        found[p.out_trade_no] = Side("payment", p.amount_fen, order_id=p.order_id)
    refunds = session.execute(
        select(Refund, Payment.order_id)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Payment.account_id == account.id,
            Refund.state == RefundStatus.SUCCEEDED.value,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        )
    )
    for refund, order_id in refunds:
        found[refund.out_refund_no] = Side("refund", refund.amount_fen, order_id=order_id)
    return found


def theirs(lines: list[StatementLine]) -> dict[str, Side]:
    return {
        (line.out_refund_no if line.kind == "refund" else line.out_trade_no): Side(
            line.kind, line.amount_fen, fee_fen=line.fee_fen
        )
        for line in lines
    }


def compare(
    day: dt.date,
    hutong: dict[str, Side],
    provider: dict[str, Side],
    platform: dict[str, Side] | None,
) -> Result:
    """The three sides line by line (``platform`` None: a two-way reconciliation)."""
    result = Result(day=day)
    sides = {"hutong": hutong, "provider": provider}
    if platform is not None:
        sides["platform"] = platform
    for name, lines in sides.items():
        result.totals[name] = {
            "payments_fen": sum(s.amount_fen for s in lines.values() if s.kind == "payment"),
            "refunds_fen": sum(s.amount_fen for s in lines.values() if s.kind == "refund"),
            "fees_fen": sum(s.fee_fen for s in lines.values()),
            "commissions_fen": sum(s.commission_fen for s in lines.values()),
        }
    for reference in sorted(set().union(*(lines.keys() for lines in sides.values()))):
        present = {name: lines[reference] for name, lines in sides.items() if reference in lines}
        issues = [f"missing_at_{name}" for name in sides if name not in present]
        amounts = {s.amount_fen for s in present.values()}
        if len(amounts) > 1:
            issues.append("amount_differs")
        if len({s.kind for s in present.values()}) > 1:
            issues.append("kind_differs")
        them, plat = present.get("provider"), present.get("platform")
        if them is not None and plat is not None and them.fee_fen != plat.fee_fen:
            issues.append("fee_differs")
        if plat is not None and plat.net_fen is not None:
            # signed money to the merchant: a refund takes the amount back and returns the
            # fee and commission (both negative on a refund line)
            signed = plat.amount_fen if plat.kind == "payment" else -plat.amount_fen
            if plat.net_fen != signed - plat.fee_fen - plat.commission_fen:
                issues.append("split_differs")
        if not issues:
            result.matched += 1
            continue
        result.mismatches.append(
            {
                "reference": reference,
                "issues": issues,
                **{
                    name: (
                        {
                            "kind": s.kind,
                            "amount_fen": s.amount_fen,
                            "fee_fen": s.fee_fen,
                            "commission_fen": s.commission_fen,
                            "net_fen": s.net_fen,
                            "order_id": s.order_id,
                        }
                        if (s := present.get(name)) is not None
                        else None
                    )
                    for name in sides
                },
            }
        )
    return result


def reconcile_day(
    ctx: Payments,
    who: Principal,
    provider_name: str,
    day: dt.date,
    platform: dict[str, Side] | None,
) -> Reconciliation:
    """Fetch the provider's statement of ``day`` (no transaction open meanwhile), compare the
    three sides, and keep the result."""
    who.require_admin()
    provider = ctx.provider(provider_name)
    with ctx.store.reading() as session:
        row = accounts.for_seller(session, who.tenant_id, provider.name)
        account = ctx.account(row)
    lines = provider.statement(account, day, ctx.client)
    with ctx.store.transaction() as session:
        held = session.get(ProviderAccount, account.id)
        assert held is not None
        result = compare(day, ours(session, held, day), theirs(lines), platform)
        record = Reconciliation(
            id=new_id("rec"),
            seller_id=held.seller_id,
            account_id=held.id,
            provider=provider.name,
            day=day.isoformat(),
            matched=result.matched,
            mismatches=result.mismatches,
            totals=result.totals,
            with_platform=platform is not None,
        )
        session.add(record)
    return record
