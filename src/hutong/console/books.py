"""Attribution side by side and settlement statements."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    Response,
)
from sqlalchemy import select

from hutong.api.auth import RuntimeDep
from hutong.console.web import principal, render, router, to_signin
from hutong.errors import HutongError


@router.get("/attribution", response_class=HTMLResponse)
def attribution_page(
    request: Request, runtime: RuntimeDep, by: str = "source_platform"
) -> Response:
    """The latest run's models side by side, by the dimension chosen."""
    from hutong.attribution import reports
    from hutong.attribution.models import AttributionRun

    if by not in reports.DIMENSIONS:
        by = "source_platform"
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        run = session.scalar(
            select(AttributionRun)
            .where(AttributionRun.state == "done")
            .order_by(AttributionRun.started_at.desc())
            .limit(1)
        )
        rows: list[dict[str, Any]] = []
        if run is not None:
            table = reports.visibility(session, who).apply(
                reports.credits_of(runtime.settings.lake_dir, run)
            )
            rows = reports.compare(table, run.models, by)
    chart = json.dumps(
        [
            {
                "type": "bar",
                "name": model,
                "x": [r["key"] or "—" for r in rows],
                "y": [r["credits_fen"].get(model, 0) / 100 for r in rows],
            }
            for model in (run.models if run is not None else [])
        ]
    )
    return render(
        request,
        "attribution.html",
        who,
        run=run,
        rows=rows,
        by=by,
        dimensions=reports.DIMENSIONS,
        chart=chart,
    )


@router.get("/settlement", response_class=HTMLResponse)
def settlement_page(
    request: Request, runtime: RuntimeDep, period: str | None = None, party: str | None = None
) -> Response:
    """A party's statement for a month, with its downloads: one's own; the operator chooses
    among the parties with lines in the month."""
    from hutong.settlement import statements
    from hutong.settlement.models import JournalLine, Period

    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        periods = [p.id for p in session.scalars(select(Period).order_by(Period.id.desc()))]
        chosen = period if period in periods else (periods[0] if periods else None)
        parties = [who.tenant_id]
        if who.is_operator and chosen:
            parties = (
                list(
                    session.scalars(
                        select(JournalLine.tenant_id)
                        .where(JournalLine.period_id == chosen)
                        .group_by(JournalLine.tenant_id)
                        .order_by(JournalLine.tenant_id)
                    )
                )
                or parties
            )
        whose = party if party in parties else parties[0]
        found = statements.statement(session, whose, chosen) if chosen else None
    return render(
        request,
        "settlement.html",
        who,
        periods=periods,
        period=chosen,
        statement=found,
        parties=parties,
        party=whose,
    )


@router.get("/settlement/{period_id}/statement.{fmt}")
def statement_file(
    period_id: str, fmt: str, request: Request, runtime: RuntimeDep, party: str | None = None
) -> Response:
    from hutong.settlement import statements

    if fmt not in ("csv", "xlsx"):
        return Response(status_code=404)
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return Response(status_code=401)
        whose = party if who.is_operator and party else who.tenant_id
        try:
            found = statements.statement(session, whose, period_id)
        except HutongError:
            return Response(status_code=404)
    name = f"hutong-statement-{period_id}-{whose}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(
            statements.to_csv(found), media_type="text/csv; charset=utf-8", headers=disposition
        )
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(statements.to_xlsx(found), media_type=kind, headers=disposition)
