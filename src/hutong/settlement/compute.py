"""What settlement owes, computed from the lake on either engine: pure, no store access.

- **Charges**: billable impressions (CPM) and clicks (CPC) per campaign, placement and
  Asia/Shanghai day, counted by one SQL definition both engines run. The money is
  ``units * price`` for CPC and ``floor(units * cpm / 1000)`` for CPM, per placement per day.
- **Commissions**: the attribution journeys credited under each order's contracted model
  (``billing_model_of``), net of the order's refunds (the refund is spread over the credits
  by the same largest-remainder rule), times the campaign's CPS rate (floored per line), split
  between the content platform and the streamer or affiliate by the rate table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hutong.attribution import journeys as J
from hutong.attribution.credit import Layout, Params, credit
from hutong.attribution.weights import largest_remainder
from hutong.lake.engines import Dialect, Engine
from hutong.lake.schema import CLICKS, IMPRESSIONS

SHANGHAI_OFFSET_MS = 8 * 3_600_000

TERMS = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("buyer_id", pa.string()),
        ("billing_model", pa.string()),
        ("cpm_fen", pa.int64()),
        ("cpc_fen", pa.int64()),
        ("cps_rate_bp", pa.int64()),
        ("budget_fen", pa.int64()),
    ]
)

UNITS = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("placement_id", pa.string()),
        ("payee_id", pa.string()),
        ("day", pa.int64()),  # days since 1970-01-01 in Asia/Shanghai
        ("kind", pa.string()),
        ("units", pa.int64()),
    ]
)

COMMISSIONS = pa.schema(
    [
        ("order_id", pa.string()),
        ("touch_id", pa.string()),
        ("campaign_id", pa.string()),
        ("buyer_id", pa.string()),
        ("payee_id", pa.string()),
        ("role", pa.string()),
        ("model", pa.string()),
        ("credit_fen", pa.int64()),
        ("rate_bp", pa.int64()),
        ("share_bp", pa.int64()),
        ("owed_fen", pa.int64()),
        ("state", pa.string()),
        ("paid_ms", pa.int64()),
        ("completed_ms", pa.int64()),
        ("source", pa.string()),  # hutong's attribution, or the alliance that reported it
    ]
)

_UNITS_SQL = """
SELECT campaign_id, placement_id, seller_id AS payee_id,
       CAST(floor(({click_ts} + {offset}) / 86400000) AS BIGINT) AS day,
       'cpc' AS kind, count(*) AS units
FROM clicks WHERE billable AND {click_ts} >= {lo} AND {click_ts} < {hi}
GROUP BY campaign_id, placement_id, seller_id,
         CAST(floor(({click_ts} + {offset}) / 86400000) AS BIGINT)
UNION ALL
SELECT campaign_id, placement_id, seller_id,
       CAST(floor(({view_ts} + {offset}) / 86400000) AS BIGINT),
       'cpm', count(*)
FROM impressions WHERE billable AND {view_ts} >= {lo} AND {view_ts} < {hi}
GROUP BY campaign_id, placement_id, seller_id,
         CAST(floor(({view_ts} + {offset}) / 86400000) AS BIGINT)
"""


def units_sql(d: Dialect, start: dt.date, end: dt.date) -> str:
    lo, hi = J.Scope(start, end, 0).from_ms, J.Scope(start, end, 0).to_ms
    return _UNITS_SQL.format(
        click_ts=d.ms("ts"),
        view_ts=d.ms("ts"),
        offset=SHANGHAI_OFFSET_MS,
        lo=lo,
        hi=hi,
    )


def billable_units(engine: Engine, lake_dir: Path, start: dt.date, end: dt.date) -> pa.Table:
    """Billable units per campaign, placement, payee, day and kind, for days in [start, end)."""
    engine.view_parquet("clicks", J.day_files(lake_dir, "clicks", start, end), CLICKS.arrow())
    engine.view_parquet(
        "impressions", J.day_files(lake_dir, "impressions", start, end), IMPRESSIONS.arrow()
    )
    raw = engine.query(units_sql(engine.dialect, start, end))
    keys = [(n, "ascending") for n in ("campaign_id", "placement_id", "day", "kind")]
    return J.normalise(raw, UNITS, keys)


def charge_fen(kind: str, units: int, terms: dict[str, int]) -> int:
    if kind == "cpc":
        return units * terms["cpc_fen"]
    return units * terms["cpm_fen"] // 1000


def billing_model_of(
    journeys: pa.Table, layout: Layout, campaign_models: dict[str, str]
) -> list[str]:
    """Each journey's model: the contract of the campaign its last click (else last view)
    belongs to."""
    if journeys.num_rows == 0:
        return []
    is_click = np.asarray(journeys["kind"].to_numpy(zero_copy_only=False) == "click")
    idx = np.arange(journeys.num_rows)
    last_click = np.maximum.reduceat(np.where(is_click, idx, -1), layout.starts)
    chosen = np.where(last_click >= 0, last_click, layout.ends - 1)
    campaigns = journeys["campaign_id"].to_pylist()
    return [campaign_models.get(campaigns[i], "last_click") for i in chosen.tolist()]


@dataclass(frozen=True)
class Shares:
    """The rate table: an affiliate's share of CPS, per (content platform, affiliate)."""

    table: dict[tuple[str, str], int]
    default_bp: int = 9_000

    def of(self, platform: str, affiliate: str) -> int:
        return self.table.get(
            (platform, affiliate), self.table.get((platform, ""), self.default_bp)
        )


def commissions(
    journeys: pa.Table,
    conversions: pa.Table,
    terms: pa.Table,
    campaign_models: dict[str, str],
    shares: Shares,
    params: Params | None = None,
) -> pa.Table:
    """One row per payee per credited touchpoint of each CPS campaign's orders."""
    if journeys.num_rows == 0:
        return COMMISSIONS.empty_table()
    models = tuple(sorted(set(campaign_models.values()) | {"last_click"}))
    credited = credit(journeys, models, params).table
    layout = Layout.of(credited["order_id"])
    per_order = billing_model_of(credited, layout, campaign_models)
    columns = {m: np.asarray(credited[f"{m}_fen"]) for m in models}
    chosen = np.zeros(credited.num_rows, dtype=np.int64)
    row_model = np.empty(credited.num_rows, dtype=object)
    for g, model in enumerate(per_order):
        s, e = layout.starts[g], layout.ends[g]
        chosen[s:e] = columns[model][s:e]
        row_model[s:e] = model
    refunded = np.asarray(credited["refunded_fen"])[layout.starts]
    paid = np.asarray(credited["paid_fen"])[layout.starts]
    refund_share = largest_remainder(
        chosen.astype(np.float64), layout.group, layout.starts, np.minimum(refunded, paid)
    )
    net = chosen - refund_share
    state_of = dict(
        zip(conversions["order_id"].to_pylist(), conversions["state"].to_pylist(), strict=True)
    )
    completed_of = dict(
        zip(
            conversions["order_id"].to_pylist(),
            conversions["completed_ms"].to_pylist(),
            strict=True,
        )
    )
    term = {r["campaign_id"]: r for r in terms.to_pylist()}
    rows = []
    for i, row in enumerate(credited.to_pylist()):
        t = term.get(row["campaign_id"])
        if t is None or t["billing_model"] != "cps" or chosen[i] == 0:
            continue
        total = int(net[i]) * int(t["cps_rate_bp"]) // 10_000
        affiliate = row["affiliate_id"]
        common = {
            "order_id": row["order_id"],
            "touch_id": row["touch_id"],
            "campaign_id": row["campaign_id"],
            "buyer_id": t["buyer_id"],
            "model": row_model[i],
            "credit_fen": int(net[i]),
            "rate_bp": int(t["cps_rate_bp"]),
            "state": state_of.get(row["order_id"], ""),
            "paid_ms": row["paid_ms"],
            "completed_ms": completed_of.get(row["order_id"]),
        }
        rows.extend(split(common, row["traffic_seller_id"], affiliate, total, shares))
    return pa.Table.from_pylist(rows, schema=COMMISSIONS)


def split(
    common: dict[str, Any], platform: str, affiliate: str, total: int, shares: Shares
) -> list[dict[str, Any]]:
    """A commission's rows: the affiliate's share of ``total`` by the rate table (floored),
    the content platform the rest; no affiliate, all to the platform."""
    share = shares.of(platform, affiliate) if affiliate else 0
    to_affiliate = total * share // 10_000
    rows = [
        {
            **common,
            "payee_id": platform,
            "role": "platform",
            "share_bp": 10_000 - share,
            "owed_fen": total - to_affiliate,
        }
    ]
    if affiliate:
        rows.append(
            {
                **common,
                "payee_id": affiliate,
                "role": "affiliate",
                "share_bp": share,
                "owed_fen": to_affiliate,
            }
        )
    return rows


ALLIANCE_ACCOUNTS = pa.schema(
    [
        ("account_id", pa.string()),
        ("platform", pa.string()),
        ("owner_id", pa.string()),
        ("payer_id", pa.string()),
    ]
)
ALLIANCE_POSITIONS = pa.schema(
    [("account_id", pa.string()), ("position_id", pa.string()), ("affiliate_id", pa.string())]
)
ALLIANCE_LINES = pa.schema(
    [
        ("id", pa.string()),
        ("order_id", pa.string()),
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("position_id", pa.string()),
        ("state", pa.string()),
        ("amount_fen", pa.int64()),
        ("commission_fen", pa.int64()),
        ("paid_ms", pa.int64()),
        ("confirmed_ms", pa.int64()),
        ("owner_id", pa.string()),
        ("payer_id", pa.string()),
        ("affiliate_id", pa.string()),
    ]
)

_ALLIANCE_SQL = """
SELECT l.id, l.id AS order_id, l.platform, l.account_id,
       l.position_id, l.state, l.amount_fen, l.commission_fen,
       coalesce({paid}, {placed}) AS paid_ms, {confirmed} AS confirmed_ms,
       a.owner_id, a.payer_id, coalesce(p.affiliate_id, '') AS affiliate_id
FROM (
  SELECT v.*, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) AS rn
  FROM alliance_orders v
) l
JOIN alliance_accounts a ON a.account_id = l.account_id
LEFT JOIN alliance_positions p ON p.account_id = l.account_id AND p.position_id = l.position_id
WHERE l.rn = 1 AND {placed} >= {lo} AND {placed} < {hi}
"""

# An alliance line's state as the commission machinery reads an order's (``book``): lines not
# yet paid owe nothing yet, invalid ones are cancelled.
_LINE_ORDER_STATE = {"invalid": "cancelled", "unpaid": "created", "deposit": "created"}


def alliance_lines(
    engine: Engine,
    lake_dir: Path,
    accounts: pa.Table,
    positions: pa.Table,
    start: dt.date,
    end: dt.date,
) -> pa.Table:
    """The latest version of every alliance line placed in [start, end), with its parties."""
    from hutong.lake.export import EXPORTS

    spec = next(e for e in EXPORTS if e.kind == "alliance_orders")
    schema = pa.schema([pa.field(n, t) for n, t, _ in spec.columns])
    scope = J.Scope(start, end, 0)
    first, last = scope.order_days()
    engine.view_parquet(
        "alliance_orders", J.day_files(lake_dir, "alliance_orders", first, last), schema
    )
    engine.view_arrow("alliance_accounts", accounts.cast(ALLIANCE_ACCOUNTS))
    engine.view_arrow("alliance_positions", positions.cast(ALLIANCE_POSITIONS))
    d = engine.dialect
    raw = engine.query(
        _ALLIANCE_SQL.format(
            paid=d.ms("l.paid_at"),
            placed=d.ms("l.placed_at"),
            confirmed=d.ms("l.confirmed_at"),
            lo=scope.from_ms,
            hi=scope.to_ms,
        )
    )
    return J.normalise(raw, ALLIANCE_LINES, [("order_id", "ascending")])


def alliance_commissions(lines: pa.Table, shares: Shares) -> pa.Table:
    """The commission the alliance reports for each paid line, owed by the shelf platform
    (the account's payer) to the publisher (its owner), the position's affiliate taking its
    share by the rate table. Unpaid lines owe nothing yet. The line's id (``alo_...``) stands
    for the order, the account's (``ala_...``) for the campaign."""
    rows = []
    for line in lines.to_pylist():
        state = _LINE_ORDER_STATE.get(line["state"], "paid")
        if state == "created":
            continue
        total = int(line["commission_fen"])
        amount = int(line["amount_fen"])
        common = {
            "order_id": line["order_id"],
            "touch_id": f"position:{line['position_id']}",
            "campaign_id": line["account_id"],
            "buyer_id": line["payer_id"],
            "model": "alliance",
            "credit_fen": amount,
            "rate_bp": total * 10_000 // amount if amount else 0,
            "state": state,
            "paid_ms": line["paid_ms"],
            "completed_ms": line["confirmed_ms"],
            "source": line["platform"],
        }
        rows.extend(split(common, line["owner_id"], line["affiliate_id"], total, shares))
    return pa.Table.from_pylist(rows, schema=COMMISSIONS)
