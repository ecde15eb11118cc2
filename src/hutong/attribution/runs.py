"""An attribution run: export the store's changes to the lake, build the journeys on an engine,
credit them under the asked models, write the credits to the lake, record the run.

Analytics reads the lake, never the live store; the one exception is the campaigns' terms
(windows, contracted model), a small table read from the store when the run starts, so a run
uses the terms in force at its start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select

from hutong.attribution import journeys as J
from hutong.attribution.credit import Credits, Params, credit
from hutong.attribution.models import AttributionRun
from hutong.attribution.weights import MODELS
from hutong.config import Settings
from hutong.ids import new_id
from hutong.lake.compact import write_atomic
from hutong.lake.engines import Engine, open_engine
from hutong.lake.export import export
from hutong.store import Store, utcnow
from hutong.tenants.models import Tenant, TenantKind
from hutong.traffic.models import Campaign

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Request:
    start: dt.date
    end: dt.date  # exclusive
    models: tuple[str, ...] = ("last_click",)
    engine: str = "duckdb"
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the period's end must be after its start")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"models must be among {', '.join(MODELS)}")


def campaign_terms(store: Store) -> pa.Table:
    """The campaigns' attribution terms, as the journeys' reference table."""
    with store.reading() as session:
        rows = session.execute(
            select(
                Campaign.id,
                Campaign.tenant_id,
                Tenant.kind,
                Campaign.target_platform_id,
                Campaign.click_window_days,
                Campaign.view_window_days,
                Campaign.attribution_model,
            ).join(Tenant, Tenant.id == Campaign.tenant_id)
        ).all()
    return pa.Table.from_pylist(
        [
            {
                "campaign_id": r[0],
                "merchant_id": r[1] if r[2] == TenantKind.MERCHANT.value else "",
                "platform_id": r[3],
                "click_window_ms": r[4] * J.DAY_MS,
                "view_window_ms": r[5] * J.DAY_MS,
                "model": r[6],
            }
            for r in rows
        ],
        schema=J.CAMPAIGNS,
    )


def lookback_days(campaigns: pa.Table) -> int:
    if campaigns.num_rows == 0:
        return 0
    longest = max(
        max(campaigns["click_window_ms"].to_pylist()), max(campaigns["view_window_ms"].to_pylist())
    )
    return -(-int(longest) // J.DAY_MS)


@contextmanager
def engine_for(name: str) -> Iterator[Engine]:
    engine = open_engine(name)
    try:
        yield engine
    finally:
        engine.close()


@dataclass
class Computed:
    credits: Credits
    conversions: pa.Table
    campaigns: pa.Table


def compute(
    lake_dir: Path,
    campaigns: pa.Table,
    request: Request,
    engine: Engine,
    progress: Progress = _quiet,
) -> Computed:
    """Journeys and credits for ``request`` on ``engine``: pure, reads the lake only."""
    scope = J.Scope(request.start, request.end, lookback_days(campaigns))
    progress("reading the lake")
    J.register(engine, lake_dir, campaigns, scope)
    progress("joining orders to touchpoints")
    single = request.models[0] if len(request.models) == 1 else None
    table = J.journeys(engine, scope, single if single in J.PICKS else None)
    conversions = J.conversions(engine, scope)
    paths = None
    if "markov" in request.models:
        progress("collecting paths without a conversion")
        paths = J.null_paths(engine, scope, request.params.channel)
    progress("crediting")
    return Computed(credit(table, request.models, request.params, paths), conversions, campaigns)


def run_dir(lake_dir: Path, run_id: str) -> Path:
    return lake_dir / "attribution" / f"run={run_id}"


def attribute(
    settings: Settings, store: Store, request: Request, progress: Progress = _quiet
) -> AttributionRun:
    """Run attribution end to end and record it; a failure is recorded, then raised."""
    run_id = new_id("atr")
    with store.transaction() as session:
        session.add(
            AttributionRun(
                id=run_id,
                engine=request.engine,
                models=list(request.models),
                params=asdict(request.params),
                period_start=request.start,
                period_end=request.end,
            )
        )
    try:
        progress("exporting the store's changes to the lake")
        export(store, settings.lake_dir)
        campaigns = campaign_terms(store)
        with engine_for(request.engine) as engine:
            computed = compute(settings.lake_dir, campaigns, request, engine, progress)
        progress("writing the credits")
        out = run_dir(settings.lake_dir, run_id)
        write_atomic(computed.credits.table, out / "credits.parquet")
        write_atomic(computed.conversions, out / "conversions.parquet")
    except Exception as exc:
        with store.transaction() as session:
            failed = session.get(AttributionRun, run_id)
            assert failed is not None
            failed.state, failed.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            failed.finished_at = utcnow()
        raise
    return _finish(store, run_id, computed)


def _finish(store: Store, run_id: str, computed: Computed) -> AttributionRun:
    table, conversions = computed.credits.table, computed.conversions
    attributed = set(table["order_id"].to_pylist())
    tiers: dict[str, int] = {}
    seen: set[str] = set()
    for order_id, tier in zip(
        table["order_id"].to_pylist(), table["tier"].to_pylist(), strict=True
    ):
        if order_id not in seen:
            seen.add(order_id)
            name = J.TIERS[int(tier)]
            tiers[name] = tiers.get(name, 0) + 1
    paid = conversions["paid_fen"].to_pylist()
    ids = conversions["order_id"].to_pylist()
    with store.transaction() as session:
        run = session.get(AttributionRun, run_id)
        assert run is not None
        run.state = "done"
        run.orders = len(ids)
        run.attributed_orders = len(attributed)
        run.touchpoints = table.num_rows
        run.gmv_fen = int(sum(paid))
        run.attributed_fen = int(sum(p for i, p in zip(ids, paid, strict=True) if i in attributed))
        run.by_tier = tiers
        run.markov_effects = computed.credits.markov_effects
        run.finished_at = utcnow()
        session.flush()
        session.expunge(run)
    return run
