"""HTTP routes of trust: signals and linked accounts in; scores, their history and
explanation, fraud flags, alerts, policies and the trust-weighted ranking out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep
from hutong.errors import InvalidInput, NotFound
from hutong.live import service as live_service
from hutong.live.trust import service
from hutong.live.trust.models import TrustAlert, TrustFlag, TrustPolicy, TrustScore
from hutong.live.trust.schemas import (
    AlertOut,
    DismissIn,
    FactorOut,
    FlagOut,
    LinkedAccountsIn,
    LinkedAccountsOut,
    PolicyIn,
    PolicyOut,
    RankedOut,
    RecomputeIn,
    ScoreOut,
    SignalsIn,
    SignalsOut,
    SignalSummaryOut,
)
from hutong.store import utcnow

router = APIRouter(tags=["trust"])
Limit = Annotated[int, Query(ge=1, le=500)]


def score_out(row: TrustScore) -> ScoreOut:
    return ScoreOut(
        streamer_id=row.streamer_id,
        as_of=row.as_of,
        rule_version=row.rule_version,
        status=row.status,
        score=row.score_cp / 100 if row.score_cp is not None else None,
        score_cp=row.score_cp,
        orders=row.orders,
        gmv_fen=row.gmv_fen,
        factors=[FactorOut(**f, deduction=f["deduction_cp"] / 100) for f in row.factors],
        computed_at=row.computed_at,
    )


def policy_out(p: TrustPolicy) -> PolicyOut:
    return PolicyOut(
        platform_id=p.platform_id,
        alert_below=p.alert_below_cp / 100,
        hold_below=p.hold_below_cp / 100,
        min_orders=p.min_orders,
        window_days=p.window_days,
        endpoint_id=p.endpoint_id,
    )


def flag_out(f: TrustFlag) -> FlagOut:
    return FlagOut.model_validate(f, from_attributes=True)


def alert_out(a: TrustAlert) -> AlertOut:
    return AlertOut(
        id=a.id,
        streamer_id=a.streamer_id,
        platform_id=a.platform_id,
        kind=a.kind,
        score=a.score_cp / 100 if a.score_cp is not None else None,
        threshold=a.threshold_cp / 100,
        message=a.message,
        at=a.at,
    )


@router.post("/v1/trust/signals", response_model=SignalsOut)
def post_signals(body: SignalsIn, session: SessionDep, who: PrincipalDep) -> SignalsOut:
    """After-sale signals about streamers: complaints, returns, refunds, negative reviews,
    quality incidents, and orders (the denominator). A ref already recorded is skipped."""
    recorded = service.record_signals(session, who, body)
    return SignalsOut(received=len(body.signals), recorded=recorded)


@router.post("/v1/streamers/{streamer_id}/linked-accounts", response_model=LinkedAccountsOut)
def post_linked_accounts(
    streamer_id: str,
    body: LinkedAccountsIn,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
) -> LinkedAccountsOut:
    """Buyer accounts the platform knows to be the streamer's own (kept as keyed hashes)."""
    linked = service.link_accounts(session, who, runtime.hasher, streamer_id, body)
    return LinkedAccountsOut(streamer_id=streamer_id, linked=linked)


@router.put("/v1/trust/policy", response_model=PolicyOut)
def put_policy(body: PolicyIn, session: SessionDep, who: PrincipalDep) -> PolicyOut:
    """A platform's thresholds: alert below, hold commissions below, the minimum sample and
    the window; alerts go signed to ``endpoint_id`` when set."""
    return policy_out(service.set_policy(session, who, body))


@router.get("/v1/trust/policies/{platform_id}", response_model=PolicyOut)
def get_policy(platform_id: str, session: SessionDep, who: PrincipalDep) -> PolicyOut:
    return policy_out(service.policy_for(session, platform_id))


@router.post("/v1/trust/recompute", response_model=list[ScoreOut])
def post_recompute(body: RecomputeIn, session: SessionDep, who: PrincipalDep) -> list[ScoreOut]:
    """Score streamers now (or as of a moment): each result is appended to the history and
    may raise alerts and put or lift commission holds."""
    return [score_out(r) for r in service.recompute(session, who, body.as_of, body.streamer_ids)]


@router.get("/v1/streamers/{streamer_id}/trust", response_model=ScoreOut)
def get_trust(streamer_id: str, session: SessionDep, who: PrincipalDep) -> ScoreOut:
    """The latest score with how much each factor took off."""
    streamer = live_service.streamer_for(session, who, streamer_id)
    row = service.latest(session, streamer.id)
    if row is None:
        raise NotFound(f"streamer {streamer_id} has not been scored yet")
    return score_out(row)


@router.get("/v1/streamers/{streamer_id}/trust/history", response_model=list[ScoreOut])
def get_history(
    streamer_id: str, session: SessionDep, who: PrincipalDep, limit: Limit = 100
) -> list[ScoreOut]:
    streamer = live_service.streamer_for(session, who, streamer_id)
    return [score_out(r) for r in service.history_of(session, streamer.id, limit)]


@router.get("/v1/streamers/{streamer_id}/signals", response_model=list[SignalSummaryOut])
def get_signals(
    streamer_id: str,
    session: SessionDep,
    who: PrincipalDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> list[SignalSummaryOut]:
    """The signals reported about a streamer per product and kind (default: the last 90
    days)."""
    until = until or utcnow()
    since = since or until - dt.timedelta(days=90)
    if since >= until:
        raise InvalidInput("since comes before until")
    rows = service.signal_summary(session, who, streamer_id, since, until)
    return [SignalSummaryOut(**r) for r in rows]


@router.get("/v1/streamers/{streamer_id}/flags", response_model=list[FlagOut])
def get_flags(streamer_id: str, session: SessionDep, who: PrincipalDep) -> list[FlagOut]:
    return [flag_out(f) for f in service.flags_of(session, who, streamer_id)]


@router.post("/v1/trust/flags/{flag_id}/dismiss", response_model=FlagOut)
def dismiss(flag_id: str, body: DismissIn, session: SessionDep, who: PrincipalDep) -> FlagOut:
    """The pattern was innocent: the flag stops counting (it stays, with the note)."""
    return flag_out(service.dismiss_flag(session, who, flag_id, body.note))


@router.get("/v1/trust/alerts", response_model=list[AlertOut])
def get_alerts(session: SessionDep, who: PrincipalDep, limit: Limit = 100) -> list[AlertOut]:
    return [alert_out(a) for a in service.alerts(session, who, limit)]


@router.get("/v1/trust/ranking", response_model=list[RankedOut])
def get_ranking(
    session: SessionDep,
    who: PrincipalDep,
    platform_id: str | None = None,
    by: Literal["weighted", "gmv", "trust"] = "weighted",
    limit: Limit = 50,
) -> list[RankedOut]:
    """Streamers by GMV, by trust, or by GMV weighted by trust (the default)."""
    return [RankedOut(**r) for r in service.ranking(session, who, platform_id, by, limit)]
