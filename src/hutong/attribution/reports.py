"""Reading a run's credits: the models side by side per dimension, and one order's journey,
each limited to what the asking tenant may see.

Who sees what: the operator everything; a merchant its own orders; a shelf platform its own
and its merchants' orders; a content platform the touchpoints on its placements; a streamer
or affiliate the touchpoints of its links.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from hutong.attribution.journeys import TIERS
from hutong.attribution.models import AttributionRun
from hutong.attribution.runs import run_dir
from hutong.errors import InvalidInput, NotFound
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.queries import buyer_tenant_ids

DIMENSIONS = (
    "source_platform",
    "placement_id",
    "campaign_id",
    "creative_id",
    "affiliate_id",
    "merchant_id",
    "tier",
    "kind",
)


@dataclass(frozen=True)
class Visibility:
    """Rows whose ``column`` is in ``values``; ``column`` None: all rows."""

    column: str | None
    values: tuple[str, ...] = ()

    def apply(self, table: pa.Table) -> pa.Table:
        if self.column is None:
            return table
        return table.filter(pc.is_in(table[self.column], pa.array(self.values, pa.string())))


def visibility(session: Session, who: Principal) -> Visibility:
    if who.is_operator:
        return Visibility(None)
    if who.kind in (TenantKind.MERCHANT, TenantKind.SHELF_PLATFORM):
        return Visibility("merchant_id", tuple(session.scalars(buyer_tenant_ids(who))))
    if who.kind is TenantKind.CONTENT_PLATFORM:
        return Visibility("traffic_seller_id", (who.tenant_id,))
    return Visibility("affiliate_id", (who.tenant_id,))


def finished_run(session: Session, run_id: str) -> AttributionRun:
    run = session.get(AttributionRun, run_id)
    if run is None:
        raise NotFound(f"attribution run {run_id} not found")
    if run.state != "done":
        raise NotFound(f"attribution run {run_id} is {run.state}, it has no credits")
    return run


def credits_of(lake_dir: Path, run: AttributionRun) -> pa.Table:
    return pq.read_table(run_dir(lake_dir, run.id) / "credits.parquet")


def conversions_of(lake_dir: Path, run: AttributionRun) -> pa.Table:
    return pq.read_table(run_dir(lake_dir, run.id) / "conversions.parquet")


def summary(run: AttributionRun, lake_dir: Path, seen: Visibility) -> dict[str, Any]:
    """A run's totals as ``seen`` sees them: everything for the operator; for a tenant, the
    orders and touchpoints it may see (a merchant also its orders nobody's traffic led to)."""
    totals: dict[str, Any] = {
        "orders": run.orders,
        "attributed_orders": run.attributed_orders,
        "touchpoints": run.touchpoints,
        "gmv_fen": run.gmv_fen,
        "attributed_fen": run.attributed_fen,
        "by_tier": run.by_tier,
        "markov_effects": run.markov_effects,
    }
    if seen.column is None or run.state != "done":
        return totals
    credits = seen.apply(credits_of(lake_dir, run))
    firsts = credits.group_by("order_id").aggregate([("paid_fen", "max"), ("tier", "min")])
    tiers: dict[str, int] = {}
    for tier in firsts["tier_min"].to_pylist():
        tiers[TIERS[int(tier)]] = tiers.get(TIERS[int(tier)], 0) + 1
    attributed_fen = int(pc.sum(firsts["paid_fen_max"]).as_py() or 0)
    totals.update(
        attributed_orders=firsts.num_rows,
        touchpoints=credits.num_rows,
        attributed_fen=attributed_fen,
        by_tier=tiers,
        orders=firsts.num_rows,
        gmv_fen=attributed_fen,
    )
    if seen.column == "merchant_id":
        own = seen.apply(conversions_of(lake_dir, run))
        totals.update(orders=own.num_rows, gmv_fen=int(pc.sum(own["paid_fen"]).as_py() or 0))
    channel = str(run.params.get("channel", "placement_id"))
    visible = set(credits[channel].to_pylist()) if credits.num_rows else set()
    totals["markov_effects"] = {k: v for k, v in run.markov_effects.items() if k in visible}
    return totals


def compare(table: pa.Table, models: list[str], by: str) -> list[dict[str, Any]]:
    """Per value of ``by``: orders touched, touchpoints, and each model's credited fen."""
    if by not in DIMENSIONS:
        raise InvalidInput(f"'by' must be one of {', '.join(DIMENSIONS)}")
    if table.num_rows == 0:
        return []
    aggregations: list[tuple[str, str]] = [("order_id", "count_distinct"), ("touch_id", "count")]
    aggregations += [(f"{m}_fen", "sum") for m in models]
    grouped = table.group_by(by).aggregate(aggregations)
    rows = []
    for row in grouped.to_pylist():
        rows.append(
            {
                "key": str(row[by]),
                "orders": row["order_id_count_distinct"],
                "touchpoints": row["touch_id_count"],
                "credits_fen": {m: int(row[f"{m}_fen_sum"] or 0) for m in models},
            }
        )
    first = models[0]
    return sorted(rows, key=lambda r: (-r["credits_fen"][first], r["key"]))


def journey_of(table: pa.Table, order_id: str) -> list[dict[str, Any]]:
    """The order's rows, oldest first; none for an order no traffic led to."""
    return [dict(row) for row in table.filter(pc.equal(table["order_id"], order_id)).to_pylist()]
