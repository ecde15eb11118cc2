"""HTTP routes of settlement: passes and period closing (the operator), statements and
balances (each party its own), commissions, the rate table and holds on payees."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import or_, select

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep, UnboundPrincipalDep
from hutong.errors import Forbidden, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.settlement import ledger, statements
from hutong.settlement.models import Commission, CommissionRate, PayeeHold, Period
from hutong.settlement.schemas import (
    BalanceOut,
    CommissionOut,
    HoldIn,
    HoldOut,
    PeriodOut,
    RateIn,
    RateOut,
    ReleaseIn,
    SettleIn,
    SettleOut,
    StatementLine,
    StatementOut,
)
from hutong.settlement.service import settle
from hutong.tenants.models import Role, Tenant, TenantKind
from hutong.tenants.principal import Principal

router = APIRouter(prefix="/v1/settlement", tags=["settlement"])


def _operator_only(who: Principal) -> None:
    if not who.is_operator:
        raise Forbidden("only the operator settles, closes periods and holds payees")


def _party(who: Principal, tenant_id: str | None) -> str:
    """Whose books: one's own; the operator may name any tenant."""
    if tenant_id is None or tenant_id == who.tenant_id:
        return who.tenant_id
    if not who.is_operator:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant_id


@router.post("/runs", response_model=SettleOut)
def run_settlement(body: SettleIn, who: UnboundPrincipalDep, runtime: RuntimeDep) -> SettleOut:
    """One settlement pass: book every change in charges and commissions (idempotent)."""
    who.require_admin()
    _operator_only(who)
    try:
        result = settle(runtime.settings, runtime.store, engine=body.engine)
    except ImportError as exc:
        from hutong.attribution.api import EngineUnavailable

        raise EngineUnavailable(f"the {body.engine} engine is not installed here: {exc}") from exc
    return SettleOut.model_validate(result)


@router.get("/periods", response_model=list[PeriodOut])
def list_periods(session: SessionDep, who: PrincipalDep) -> list[PeriodOut]:
    return [
        PeriodOut(id=p.id, state=p.state, closed_at=p.closed_at)
        for p in session.scalars(select(Period).order_by(Period.id.desc()))
    ]


@router.post("/periods/{period_id}/close", response_model=PeriodOut)
def close_period(period_id: str, session: SessionDep, who: PrincipalDep) -> PeriodOut:
    """Close a month that is over: its statements are final; later facts go to the next."""
    who.require_admin()
    _operator_only(who)
    found = ledger.close(session, period_id)
    return PeriodOut(id=found.id, state=found.state, closed_at=found.closed_at)


@router.get("/periods/{period_id}/statement", response_model=StatementOut)
def get_statement(
    period_id: str,
    session: SessionDep,
    who: PrincipalDep,
    tenant_id: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
) -> StatementOut | Response:
    """A party's statement for a period: every line, the totals per account, opening and
    closing balances; ``format=csv`` or ``xlsx`` for a file."""
    party = _party(who, tenant_id)
    found = statements.statement(session, party, period_id)
    name = f"hutong-statement-{period_id}-{party}"
    if format == "csv":
        return Response(
            statements.to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            statements.to_xlsx(found),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return StatementOut(
        tenant_id=found.tenant_id,
        period_id=found.period_id,
        state=found.state,
        opening_fen=found.opening_fen,
        totals=found.totals,
        net_fen=found.net_fen,
        closing_fen=found.closing_fen,
        lines=[
            StatementLine(**{k: v for k, v in line.items() if k != "amount"})
            for line in found.lines
        ],
    )


@router.get("/balances", response_model=BalanceOut)
def get_balances(
    session: SessionDep, who: PrincipalDep, tenant_id: str | None = None
) -> BalanceOut:
    party = _party(who, tenant_id)
    accounts = {a: v for (_, a), v in ledger.balances(session, tenant_id=party).items()}
    return BalanceOut(tenant_id=party, accounts=accounts, total_fen=sum(accounts.values()))


@router.get("/commissions", response_model=list[CommissionOut])
def list_commissions(
    session: SessionDep,
    who: PrincipalDep,
    state: str | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CommissionOut]:
    """Commissions the caller earns or pays, newest first."""
    query = select(Commission).order_by(Commission.paid_at.desc(), Commission.id).limit(limit)
    if not who.is_operator:
        query = query.where(
            or_(Commission.payee_id == who.tenant_id, Commission.buyer_id == who.tenant_id)
        )
    if state is not None:
        query = query.where(Commission.state == state)
    if order_id is not None:
        query = query.where(Commission.order_id == order_id)
    return [
        CommissionOut(
            id=c.id,
            order_id=c.order_id,
            campaign_id=c.campaign_id,
            payee_id=c.payee_id,
            buyer_id=c.buyer_id,
            role=c.role,
            model=c.model,
            credit_fen=c.credit_fen,
            rate_bp=c.rate_bp,
            share_bp=c.share_bp,
            owed_fen=c.owed_fen,
            booked_fen=c.booked_fen,
            settled_fen=c.settled_fen,
            state=c.state,
            hold_reason=c.hold_reason,
            paid_at=c.paid_at,
            confirmed_at=c.confirmed_at,
            settle_after=c.settle_after,
            settled_period=c.settled_period,
            source=c.source,
        )
        for c in session.scalars(query)
    ]


@router.put("/rates", response_model=RateOut)
def put_rate(body: RateIn, session: SessionDep, who: PrincipalDep) -> RateOut:
    """A content platform's split of CPS with a streamer or affiliate (or its default)."""
    who.require_admin()
    if who.is_operator:
        if body.platform_tenant_id is None:
            raise InvalidInput("the operator names the platform: platform_tenant_id")
        platform = body.platform_tenant_id
    else:
        who.require_kind(TenantKind.CONTENT_PLATFORM)
        platform = who.tenant_id
    for tenant in (platform, body.affiliate_id):
        if tenant is not None and session.get(Tenant, tenant) is None:
            raise NotFound(f"tenant {tenant} not found")
    rate = session.scalar(
        select(CommissionRate).where(
            CommissionRate.platform_tenant_id == platform,
            CommissionRate.affiliate_id.is_(None)
            if body.affiliate_id is None
            else CommissionRate.affiliate_id == body.affiliate_id,
        )
    )
    if rate is None:
        rate = CommissionRate(
            id=new_id("rat"), platform_tenant_id=platform, affiliate_id=body.affiliate_id
        )
        session.add(rate)
    rate.affiliate_share_bp = body.affiliate_share_bp
    return RateOut(
        platform_tenant_id=platform,
        affiliate_id=body.affiliate_id,
        affiliate_share_bp=body.affiliate_share_bp,
    )


@router.get("/rates", response_model=list[RateOut])
def list_rates(session: SessionDep, who: PrincipalDep) -> list[RateOut]:
    query = select(CommissionRate)
    if not who.is_operator:
        query = query.where(
            or_(
                CommissionRate.platform_tenant_id == who.tenant_id,
                CommissionRate.affiliate_id == who.tenant_id,
            )
        )
    return [
        RateOut(
            platform_tenant_id=r.platform_tenant_id,
            affiliate_id=r.affiliate_id,
            affiliate_share_bp=r.affiliate_share_bp,
        )
        for r in session.scalars(query)
    ]


def _may_hold(who: Principal) -> None:
    _operator_only(who)
    if who.role not in (Role.ADMIN, Role.RISK):
        raise Forbidden("holding a payee's money needs the admin or risk role")


@router.post("/holds", status_code=201, response_model=HoldOut)
def hold_payee(body: HoldIn, session: SessionDep, who: PrincipalDep) -> HoldOut:
    """Hold a payee's money: its commissions stop settling (``held``) until released."""
    _may_hold(who)
    if session.get(Tenant, body.tenant_id) is None:
        raise NotFound(f"tenant {body.tenant_id} not found")
    hold = session.get(PayeeHold, body.tenant_id)
    if hold is None:
        hold = PayeeHold(tenant_id=body.tenant_id, reason=body.reason)
        session.add(hold)
        session.flush()
    hold.reason = body.reason
    return HoldOut(tenant_id=hold.tenant_id, reason=hold.reason, held_at=hold.held_at)


@router.post("/holds/release", status_code=204)
def release_payee(body: ReleaseIn, session: SessionDep, who: PrincipalDep) -> Response:
    """Release a hold: the payee's held commissions settle at the next pass."""
    _may_hold(who)
    hold = session.get(PayeeHold, body.tenant_id)
    if hold is None:
        raise NotFound(f"no hold on tenant {body.tenant_id}")
    session.delete(hold)
    return Response(status_code=204)


@router.get("/holds", response_model=list[HoldOut])
def list_holds(session: SessionDep, who: PrincipalDep) -> list[HoldOut]:
    _may_hold(who)
    return [
        HoldOut(tenant_id=h.tenant_id, reason=h.reason, held_at=h.held_at)
        for h in session.scalars(select(PayeeHold).order_by(PayeeHold.held_at))
    ]
