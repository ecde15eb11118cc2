"""HTTP routes of attribution: start a run (the operator), read its comparison of models and
an order's journey (every tenant, within what it may see)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep, UnboundPrincipalDep
from hutong.attribution import reports
from hutong.attribution.credit import Params
from hutong.attribution.journeys import TIERS
from hutong.attribution.models import AttributionRun
from hutong.attribution.runs import Request, attribute
from hutong.attribution.schemas import (
    CompareOut,
    CompareRow,
    JourneyOut,
    RunIn,
    RunOut,
    TouchOut,
)
from hutong.commerce.queries import order_for
from hutong.errors import HutongError, InvalidInput, NotFound

router = APIRouter(prefix="/v1/attribution", tags=["attribution"])


class EngineUnavailable(HutongError):
    status = 422
    code = "engine_unavailable"


def run_out(run: AttributionRun, totals: dict[str, Any]) -> RunOut:
    return RunOut(
        id=run.id,
        engine=run.engine,
        models=run.models,
        params=run.params,
        start=run.period_start,
        end=run.period_end,
        state=run.state,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
        **totals,
    )


def request_of(body: RunIn) -> Request:
    try:
        params = Params(
            half_life_days=float(body.half_life_days),
            first_share=float(body.first_share),
            last_share=float(body.last_share),
            markov_order=body.markov_order,
            collapse=body.collapse_repeats,
            channel=body.channel,
        )
        return Request(body.start, body.end, tuple(dict.fromkeys(body.models)), body.engine, params)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


@router.post("/runs", status_code=201, response_model=RunOut)
def start_run(body: RunIn, who: UnboundPrincipalDep, runtime: RuntimeDep) -> RunOut:
    """Attribute the orders placed in ``[start, end)`` under the asked models (the operator)."""
    who.require_admin()
    if not who.is_operator:
        raise reports_forbidden()
    request = request_of(body)
    try:
        run = attribute(runtime.settings, runtime.store, request)
    except ImportError as exc:
        raise EngineUnavailable(f"the {body.engine} engine is not installed here: {exc}") from exc
    return run_out(run, reports.summary(run, runtime.settings.lake_dir, reports.Visibility(None)))


def reports_forbidden() -> HutongError:
    from hutong.errors import Forbidden

    return Forbidden("only the operator runs attribution; every tenant reads the results")


@router.get("/runs", response_model=list[RunOut])
def list_runs(
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[RunOut]:
    """The latest runs, newest first, each with the totals the caller may see."""
    seen = reports.visibility(session, who)
    rows = session.scalars(
        select(AttributionRun).order_by(AttributionRun.started_at.desc()).limit(limit)
    )
    return [run_out(r, reports.summary(r, runtime.settings.lake_dir, seen)) for r in rows]


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep) -> RunOut:
    """A run; a tenant's totals count only the orders and touchpoints it may see."""
    run = session.get(AttributionRun, run_id)
    if run is None:
        raise NotFound(f"attribution run {run_id} not found")
    seen = reports.visibility(session, who)
    return run_out(run, reports.summary(run, runtime.settings.lake_dir, seen))


@router.get("/runs/{run_id}/compare", response_model=CompareOut)
def compare_models(
    run_id: str,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    by: Annotated[str, Query(description=", ".join(reports.DIMENSIONS))] = "placement_id",
) -> CompareOut:
    """The run's models side by side per content platform, placement, campaign, creative,
    streamer (affiliate), merchant, identity tier or touchpoint kind."""
    run = reports.finished_run(session, run_id)
    table = reports.visibility(session, who).apply(
        reports.credits_of(runtime.settings.lake_dir, run)
    )
    rows = reports.compare(table, run.models, by)
    return CompareOut(run_id=run.id, by=by, models=run.models, rows=[CompareRow(**r) for r in rows])


@router.get("/runs/{run_id}/orders/{order_id}", response_model=JourneyOut)
def order_journey(
    run_id: str, order_id: str, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> JourneyOut:
    """One order's touchpoints, oldest first, with each model's credit. The order's seller (and
    its platform) sees every touchpoint, or none for an order no traffic led to; a content
    platform or streamer sees its own touchpoints of the order."""
    run = reports.finished_run(session, run_id)
    seen = reports.visibility(session, who)
    paid_fen = None
    if who.is_operator or seen.column == "merchant_id":
        paid_fen = order_for(session, who, order_id).paid_fen
        seen = reports.Visibility(None)
    table = seen.apply(reports.credits_of(runtime.settings.lake_dir, run))
    rows = reports.journey_of(table, order_id)
    if not rows and paid_fen is None:
        raise NotFound(f"order {order_id} not found")
    return JourneyOut(
        run_id=run.id,
        order_id=order_id,
        paid_fen=rows[0]["paid_fen"] if rows else paid_fen,
        touchpoints=[
            TouchOut(
                touch_id=r["touch_id"],
                kind=r["kind"],
                ts=dt.datetime.fromtimestamp(r["ts_ms"] / 1000, dt.UTC),
                tier=TIERS[int(r["tier"])],
                campaign_id=r["campaign_id"],
                placement_id=r["placement_id"],
                creative_id=r["creative_id"],
                affiliate_id=r["affiliate_id"],
                source_platform=r["source_platform"],
                credits_fen={m: int(r[f"{m}_fen"]) for m in run.models},
            )
            for r in rows
        ],
    )
