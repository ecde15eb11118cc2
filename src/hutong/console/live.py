"""Live pages: sessions with their counters kept current, the trust ranking, a streamer's
explained score."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    Response,
    StreamingResponse,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.api.auth import RuntimeDep
from hutong.console.web import principal, render, router, to_signin
from hutong.errors import HutongError
from hutong.live import service as live_service
from hutong.live.models import IN_FORCE, LiveSession, PenaltyState, Streamer
from hutong.live.report import session_report
from hutong.live.stream import SSE_HEADERS, counter_events
from hutong.live.trust import service as trust


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        query = live_service.visible_sessions(who).order_by(LiveSession.starts_at.desc()).limit(50)
        sessions = list(session.scalars(query))
        handles = _handles(session, {s.streamer_id for s in sessions})
        ranking = trust.ranking(session, who, None, "weighted", 50)
        alerts = trust.alerts(session, who, 20)
    return render(
        request,
        "live.html",
        who,
        sessions=sessions,
        handles=handles,
        ranking=ranking,
        alerts=alerts,
    )


def _handles(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Streamer.id, Streamer.handle).where(Streamer.id.in_(ids)))
    return {streamer_id: handle for streamer_id, handle in rows}


@router.get("/live/{session_id}", response_class=HTMLResponse)
def session_page(session_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        try:
            live = live_service.session_for(session, who, session_id)
        except HutongError:
            return render(request, "missing.html", who, status=404)
        counters = runtime.live.counters_for(session, live)
        snap = counters.snapshot()
        report = session_report(live, live_service.products_of(session, live.id), snap)
        handle = _handles(session, {live.streamer_id}).get(live.streamer_id, "")
    minutes = [m.minute for m in report.per_minute]
    chart = json.dumps(
        [
            {
                "type": "scatter",
                "name": "concurrent",
                "x": minutes,
                "y": [m.concurrent for m in report.per_minute],
            },
            {
                "type": "bar",
                "name": "orders",
                "x": minutes,
                "y": [m.orders for m in report.per_minute],
                "yaxis": "y2",
            },
        ]
    )
    return render(
        request,
        "session.html",
        who,
        live=live,
        report=report,
        snap=snap,
        handle=handle,
        chart=chart,
    )


@router.get("/live/{session_id}/stream")
def session_stream(session_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return Response(status_code=401)
        try:
            live = live_service.session_for(session, who, session_id)
        except HutongError:
            return Response(status_code=404)
        counters = runtime.live.counters_for(session, live)
    events = counter_events(request, counters, live.id, 1_000, None)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/streamers/{streamer_id}", response_class=HTMLResponse)
def streamer_page(streamer_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        try:
            streamer = live_service.streamer_for(session, who, streamer_id)
        except HutongError:
            return render(request, "missing.html", who, status=404)
        latest = trust.latest(session, streamer.id)
        history = trust.history_of(session, streamer.id, 20)
        penalties = live_service.penalties_of(session, streamer.id)
        flags = trust.flags_of(session, who, streamer.id)
    in_force = {s.value for s in IN_FORCE}
    chart = json.dumps(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [f["deduction_cp"] / 100 for f in latest.factors],
                "y": [f["factor"] for f in latest.factors],
            }
        ]
        if latest is not None
        else []
    )
    return render(
        request,
        "streamer.html",
        who,
        streamer=streamer,
        latest=latest,
        history=history,
        penalties=penalties,
        flags=flags,
        in_force=in_force,
        chart=chart,
        revoked=PenaltyState.REVOKED.value,
    )
