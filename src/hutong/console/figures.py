"""The market page: the article's figures beside what hutong measured."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    Response,
)

from hutong.api.auth import RuntimeDep
from hutong.console import market
from hutong.console.web import principal, render, router, to_signin
from hutong.live import service as live_service


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        biggest = session.scalars(live_service.visible_sessions(who)).all()
        measured = []
        for live in biggest[:5]:
            snap = runtime.live.counters_for(session, live).snapshot()
            measured.append((live, snap))
    charts = {
        f.key: json.dumps(
            [{"type": "bar", "x": [p for p, _ in f.points], "y": [v for _, v in f.points]}]
        )
        for f in market.FIGURES
    }
    return render(
        request, "market.html", who, figures=market.FIGURES, charts=charts, measured=measured
    )
