"""The overview page: per shelf platform and day, from the lake."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    Response,
)

from hutong.api.auth import RuntimeDep
from hutong.console.web import principal, render, router, to_signin
from hutong.runtime import Runtime
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal


# -- pages ---------------------------------------------------------------------------------
@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    rows = _overview_rows(runtime, who)
    totals = {
        key: sum(r[key] for r in rows)
        for key in ("clicks", "orders", "paid_orders", "gmv_fen", "refunded_fen")
    }
    totals["conversion"] = totals["paid_orders"] / totals["clicks"] if totals["clicks"] else None
    chart = _series_chart(rows, "gmv_fen", 0.01)
    return render(request, "overview.html", who, rows=rows, totals=totals, chart=chart)


def _overview_rows(runtime: Runtime, who: Principal) -> list[dict[str, Any]]:
    from hutong.attribution.runs import campaign_terms, engine_for
    from hutong.insights.overview import overview, with_rates

    if not who.is_operator and who.kind is not TenantKind.SHELF_PLATFORM:
        return []
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    campaigns = campaign_terms(runtime.store)
    with engine_for("duckdb") as engine:
        table = overview(
            engine,
            runtime.settings.lake_dir,
            campaigns,
            today - dt.timedelta(days=30),
            today + dt.timedelta(days=1),
        )
    rows = with_rates(table)
    if not who.is_operator:
        rows = [r for r in rows if r["platform_id"] == who.platform_id]
    return rows


def _series_chart(rows: list[dict[str, Any]], field: str, scale: float) -> str:
    """Plotly traces (one per platform, by day) as JSON for console.js."""
    traces: dict[str, dict[str, list[Any]]] = {}
    for r in rows:
        trace = traces.setdefault(r["platform_id"], {"x": [], "y": []})
        trace["x"].append(str(r["day"]))
        trace["y"].append(r[field] * scale)
    return json.dumps([{"type": "bar", "name": name, **trace} for name, trace in traces.items()])
