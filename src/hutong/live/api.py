"""HTTP routes of live: streamers, live sessions with their shelf, penalties and appeals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep
from hutong.api.idempotency import IdemKey, run_once
from hutong.live import service
from hutong.live.intake import SessionCounters
from hutong.live.models import (
    IN_FORCE,
    LiveSession,
    Penalty,
    PenaltyState,
    Streamer,
)
from hutong.live.report import session_report
from hutong.live.schemas import (
    CountersOut,
    DecisionIn,
    LiveEventsIn,
    LiveEventsOut,
    PenaltyEventOut,
    PenaltyIn,
    PenaltyOut,
    ProductOut,
    ReportOut,
    SessionIn,
    SessionOut,
    StreamerIn,
    StreamerOut,
)
from hutong.live.stream import SSE_HEADERS, counter_events
from hutong.live.trust import service as trust
from hutong.tenants.principal import Principal

router = APIRouter(tags=["live"])
Limit = Annotated[int, Query(ge=1, le=500)]


def streamer_out(session: Session, s: Streamer) -> StreamerOut:
    return StreamerOut(
        id=s.id,
        platform_id=s.platform_id,
        handle=s.handle,
        name=s.name,
        agency=s.agency,
        tenant_id=s.tenant_id,
        penalty_points=service.penalty_points(session, s.id),
        created_at=s.created_at,
    )


def session_out(session: Session, live: LiveSession) -> SessionOut:
    return SessionOut(
        id=live.id,
        platform_id=live.platform_id,
        streamer_id=live.streamer_id,
        title=live.title,
        starts_at=live.starts_at,
        ends_at=live.ends_at,
        state=live.state,
        products=[
            ProductOut.model_validate(p, from_attributes=True)
            for p in service.products_of(session, live.id)
        ],
    )


def penalty_out(session: Session, p: Penalty) -> PenaltyOut:
    return PenaltyOut(
        id=p.id,
        streamer_id=p.streamer_id,
        platform_id=p.platform_id,
        points=p.points,
        code=p.code,
        reason=p.reason,
        occurred_at=p.occurred_at,
        state=p.state,
        counts=PenaltyState(p.state) in IN_FORCE,
        history=[
            PenaltyEventOut.model_validate(e, from_attributes=True)
            for e in service.history_of(session, p.id)
        ],
    )


@router.post("/v1/streamers", status_code=201, response_model=StreamerOut)
def create_streamer(
    body: StreamerIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> JSONResponse:
    """Register a streamer on the calling content platform."""
    return run_once(
        session,
        who,
        key,
        "POST /v1/streamers",
        body,
        lambda: (201, streamer_out(session, service.create_streamer(session, who, body))),
    )


@router.get("/v1/streamers", response_model=list[StreamerOut])
def list_streamers(session: SessionDep, who: PrincipalDep, limit: Limit = 100) -> list[StreamerOut]:
    query = service.visible_streamers(who).order_by(Streamer.created_at, Streamer.id).limit(limit)
    return [streamer_out(session, s) for s in session.scalars(query)]


@router.get("/v1/streamers/{streamer_id}", response_model=StreamerOut)
def get_streamer(streamer_id: str, session: SessionDep, who: PrincipalDep) -> StreamerOut:
    return streamer_out(session, service.streamer_for(session, who, streamer_id))


@router.post("/v1/live/sessions", status_code=201, response_model=SessionOut)
def create_session(
    body: SessionIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> JSONResponse:
    """Schedule a live session with the products on its shelf, in order."""
    return run_once(
        session,
        who,
        key,
        "POST /v1/live/sessions",
        body,
        lambda: (201, session_out(session, service.create_session(session, who, body))),
    )


@router.get("/v1/live/sessions", response_model=list[SessionOut])
def list_sessions(
    session: SessionDep,
    who: PrincipalDep,
    streamer_id: str | None = None,
    limit: Limit = 100,
) -> list[SessionOut]:
    query = service.visible_sessions(who)
    if streamer_id is not None:
        query = query.where(LiveSession.streamer_id == streamer_id)
    query = query.order_by(LiveSession.starts_at.desc(), LiveSession.id).limit(limit)
    return [session_out(session, s) for s in session.scalars(query)]


@router.get("/v1/live/sessions/{session_id}", response_model=SessionOut)
def get_session(session_id: str, session: SessionDep, who: PrincipalDep) -> SessionOut:
    return session_out(session, service.session_for(session, who, session_id))


@router.post("/v1/live/sessions/{session_id}/events", status_code=202, response_model=LiveEventsOut)
def post_events(
    session_id: str,
    body: LiveEventsIn,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
) -> LiveEventsOut:
    """A batch of the session's events from its platform, in any order; events already
    received (by event id) are acknowledged and not counted again."""
    return runtime.live.ingest(session, who, session_id, body)


def _counters(
    session: Session, who: Principal, runtime: RuntimeDep, session_id: str
) -> tuple[LiveSession, SessionCounters]:
    live = service.session_for(session, who, session_id)
    return live, runtime.live.counters_for(session, live)


@router.get("/v1/live/sessions/{session_id}/counters", response_model=CountersOut)
def get_counters(
    session_id: str, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> CountersOut:
    live, counters = _counters(session, who, runtime, session_id)
    return CountersOut.model_validate(counters.snapshot() | {"session_id": live.id})


@router.get(
    "/v1/live/sessions/{session_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_counters(
    session_id: str,
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    interval_ms: Annotated[int, Query(ge=100, le=60_000)] = 1_000,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> StreamingResponse:
    """Server-sent events: a ``counters`` event whenever the counters change (checked every
    ``interval_ms``), a comment line as a heartbeat otherwise; ``limit`` ends the stream
    after that many ``counters`` events (an EventSource reconnects by itself)."""
    live, counters = _counters(session, who, runtime, session_id)
    events = counter_events(request, counters, live.id, interval_ms, limit)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/v1/live/sessions/{session_id}/report", response_model=ReportOut)
def get_report(
    session_id: str, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> ReportOut:
    """The session's report from its counters: afterwards, or so far while it runs."""
    live, counters = _counters(session, who, runtime, session_id)
    return session_report(live, service.products_of(session, live.id), counters.snapshot())


@router.post("/v1/live/sessions/{session_id}/end", response_model=SessionOut)
def end_session(
    session_id: str, body: DecisionIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> SessionOut:
    """The session is over (late events are still counted). Its orders and refunds per
    product become trust signals of its streamer."""
    live = service.end_session(session, who, session_id)
    snap = runtime.live.counters_for(session, live).snapshot()
    trust.record_session_totals(session, who.tenant_id, live.streamer_id, live.id, snap)
    return session_out(session, live)


@router.post("/v1/streamers/{streamer_id}/penalties", status_code=201, response_model=PenaltyOut)
def raise_penalty(
    streamer_id: str,
    body: PenaltyIn,
    session: SessionDep,
    who: PrincipalDep,
    key: IdemKey = None,
) -> JSONResponse:
    """Record a platform's penalty (points and reason as the platform publishes them)."""
    return run_once(
        session,
        who,
        key,
        f"POST /v1/streamers/{streamer_id}/penalties",
        body,
        lambda: (
            201,
            penalty_out(session, service.raise_penalty(session, who, streamer_id, body)),
        ),
    )


@router.get("/v1/streamers/{streamer_id}/penalties", response_model=list[PenaltyOut])
def list_penalties(streamer_id: str, session: SessionDep, who: PrincipalDep) -> list[PenaltyOut]:
    streamer = service.streamer_for(session, who, streamer_id)
    return [penalty_out(session, p) for p in service.penalties_of(session, streamer.id)]


def _decide(
    session: Session, who: Principal, penalty_id: str, target: PenaltyState, body: DecisionIn
) -> PenaltyOut:
    return penalty_out(session, service.decide(session, who, penalty_id, target, body.note))


@router.post("/v1/penalties/{penalty_id}/appeal", response_model=PenaltyOut)
def appeal(penalty_id: str, body: DecisionIn, session: SessionDep, who: PrincipalDep) -> PenaltyOut:
    """Appeal a penalty (the streamer itself, or its platform): it counts while heard."""
    return _decide(session, who, penalty_id, PenaltyState.APPEALED, body)


@router.post("/v1/penalties/{penalty_id}/uphold", response_model=PenaltyOut)
def uphold(penalty_id: str, body: DecisionIn, session: SessionDep, who: PrincipalDep) -> PenaltyOut:
    """Reject the appeal: the penalty stands, finally."""
    return _decide(session, who, penalty_id, PenaltyState.UPHELD, body)


@router.post("/v1/penalties/{penalty_id}/revoke", response_model=PenaltyOut)
def revoke(penalty_id: str, body: DecisionIn, session: SessionDep, who: PrincipalDep) -> PenaltyOut:
    """Withdraw the penalty (or grant the appeal): it stops counting."""
    return _decide(session, who, penalty_id, PenaltyState.REVOKED, body)
