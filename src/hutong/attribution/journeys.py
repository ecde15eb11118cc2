"""Journeys: each paid order joined to the touchpoints of the person who placed it.

One definition, run by either engine (``hutong.lake.engines``): the SQL below uses only what
DuckDB and Spark SQL share, with epoch milliseconds rendered by the engine's dialect. Its
inputs are views over the lake (clicks, impressions, the export of orders) and one small
reference table, the campaigns' attribution terms, snapshotted from the store when a run starts.

The rules (docs/attribution.md):

- **Touchpoints** are clicks and impressions that are neither bots nor duplicates and carry a
  device key, of a campaign bought for the order's shelf platform by the merchant who sold it,
  or by the shelf platform itself (a platform's campaign works for all its merchants).
- **Identity**, three tiers, the first that finds a touchpoint wins: (1) the click token the
  order carries — the journey is that click and the same device's earlier touchpoints; (2) the
  order's device id; (3) the shelf platform's keyed buyer hash, through the devices other orders
  in scope tie to the same buyer (by token or device id).
- **Windows** are the touchpoint's campaign's: a click counts if it happened at most
  ``click_window`` before the order was placed, a view at most ``view_window`` before;
  boundaries are inclusive, to the millisecond. The order's placing time is the anchor, so a
  Double 11 presale's journey is the one that led to its deposit; it converts (and is credited)
  once, when the final payment makes it paid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from hutong.lake.compact import SHANGHAI
from hutong.lake.engines import Dialect, Engine
from hutong.lake.export import EXPORTS
from hutong.lake.schema import CLICKS, IMPRESSIONS

DAY_MS = 86_400_000

CAMPAIGNS = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("merchant_id", pa.string()),  # '' when a shelf platform buys for all its merchants
        ("platform_id", pa.string()),
        ("click_window_ms", pa.int64()),
        ("view_window_ms", pa.int64()),
        ("model", pa.string()),
    ]
)

# what a journey row says; both engines' answers are cast to it
JOURNEY = pa.schema(
    [
        ("order_id", pa.string()),
        ("merchant_id", pa.string()),
        ("platform_id", pa.string()),
        ("tier", pa.int64()),
        ("paid_fen", pa.int64()),
        ("refunded_fen", pa.int64()),
        ("placed_ms", pa.int64()),
        ("paid_ms", pa.int64()),
        ("touch_id", pa.string()),
        ("kind", pa.string()),
        ("ts_ms", pa.int64()),
        ("campaign_id", pa.string()),
        ("placement_id", pa.string()),
        ("creative_id", pa.string()),
        ("affiliate_id", pa.string()),
        ("traffic_seller_id", pa.string()),
        ("source_platform", pa.string()),
    ]
)

CONVERSION = pa.schema(
    [
        ("order_id", pa.string()),
        ("merchant_id", pa.string()),
        ("platform_id", pa.string()),
        ("paid_fen", pa.int64()),
        ("refunded_fen", pa.int64()),
        ("placed_ms", pa.int64()),
        ("paid_ms", pa.int64()),
        ("completed_ms", pa.int64()),
        ("state", pa.string()),
    ]
)

PATH = pa.schema(
    [
        ("device_key", pa.string()),
        ("ts_ms", pa.int64()),
        ("touch_id", pa.string()),
        ("channel", pa.string()),
    ]
)

TIERS = {1: "token", 2: "device", 3: "buyer"}
CHANNELS = ("placement_id", "campaign_id", "creative_id", "source_platform", "affiliate_id")


@dataclass(frozen=True)
class Scope:
    """Orders placed in ``[start, end)`` (Asia/Shanghai days), looking back ``lookback_days``
    for touchpoints (the longest window of any campaign)."""

    start: dt.date
    end: dt.date
    lookback_days: int

    @property
    def from_ms(self) -> int:
        return _ms(self.start)

    @property
    def to_ms(self) -> int:
        return _ms(self.end)

    def touch_days(self) -> tuple[dt.date, dt.date]:
        return self.start - dt.timedelta(days=self.lookback_days + 1), self.end

    def order_days(self) -> tuple[dt.date, dt.date]:
        """An order placed in scope has every version stamped on or after its placing day; the
        lookback reaches the orders that tie buyers to devices."""
        return self.start - dt.timedelta(days=self.lookback_days + 1), dt.date.max


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), SHANGHAI).timestamp() * 1000)


def day_files(lake_dir: Path, kind: str, first: dt.date, last: dt.date) -> list[Path]:
    """The Parquet files of ``kind`` in day partitions ``first``..``last`` (inclusive)."""
    files = []
    for part in sorted((lake_dir / kind).glob("day=*")):
        try:
            day = dt.date.fromisoformat(part.name.removeprefix("day="))
        except ValueError:
            continue
        if first <= day <= last:
            files.extend(sorted(part.glob("*.parquet")))
    return files


def register(engine: Engine, lake_dir: Path, campaigns: pa.Table, scope: Scope) -> None:
    """The views the journeys read: clicks, impressions, orders (every exported version) and
    the campaigns' terms."""
    first, last = scope.touch_days()
    engine.view_parquet("clicks", day_files(lake_dir, "clicks", first, last), CLICKS.arrow())
    engine.view_parquet(
        "impressions", day_files(lake_dir, "impressions", first, last), IMPRESSIONS.arrow()
    )
    order_spec = next(e for e in EXPORTS if e.kind == "orders")
    order_schema = pa.schema([pa.field(n, t) for n, t, _ in order_spec.columns])
    o_first, o_last = scope.order_days()
    engine.view_parquet("orders", day_files(lake_dir, "orders", o_first, o_last), order_schema)
    engine.view_arrow("campaigns", campaigns.cast(CAMPAIGNS))
    engine.materialize("order_latest", _LATEST_ORDERS.format(**_order_ms(engine.dialect)))


# Each order's latest exported version, computed once per run (journeys, conversions and the
# null paths all read it).
_LATEST_ORDERS = """
SELECT id AS order_id, seller_id, platform_id, state, paid_fen, refunded_fen, click_id,
       device_hash, buyer_hash, {placed} AS placed_ms, {paid} AS paid_ms,
       {completed} AS completed_ms
FROM (
  SELECT v.*, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) AS rn FROM orders v
) latest
WHERE rn = 1
"""


def _order_ms(d: Dialect) -> dict[str, str]:
    return {
        "placed": d.ms("created_at"),
        "paid": d.ms("paid_at"),
        "completed": d.ms("completed_at"),
    }


# The common part of every query here; ``{...}`` are the dialect's spellings and numbers.
_CTES = """
WITH touch AS (
  SELECT c.event_id AS touch_id, 'click' AS kind, {click_ts} AS ts_ms, c.device_key,
         c.campaign_id, c.placement_id, c.creative_id, c.affiliate_id,
         c.seller_id AS traffic_seller_id, c.source_platform, k.merchant_id,
         k.platform_id, k.click_window_ms AS window_ms
  FROM clicks c JOIN campaigns k ON k.campaign_id = c.campaign_id
  WHERE NOT c.bot AND NOT c.duplicate AND c.device_key <> ''
  UNION ALL
  SELECT i.event_id, 'view', {view_ts}, i.device_key,
         i.campaign_id, i.placement_id, i.creative_id, '',
         i.seller_id, i.source_platform, k.merchant_id,
         k.platform_id, k.view_window_ms
  FROM impressions i JOIN campaigns k ON k.campaign_id = i.campaign_id
  WHERE NOT i.bot AND NOT i.duplicate AND i.device_key <> ''
),
order_all AS (
  SELECT * FROM order_latest
),
converted AS (
  SELECT * FROM order_all
  WHERE paid_ms IS NOT NULL AND placed_ms >= {from_ms} AND placed_ms < {to_ms}
),
token AS (
  SELECT o.order_id, o.buyer_hash, c.device_key, {click_ts} AS until_ms,
         CASE WHEN k.platform_id = o.platform_id
               AND (k.merchant_id = '' OR k.merchant_id = o.seller_id)
               AND {click_ts} <= o.placed_ms AND {click_ts} >= o.placed_ms - k.click_window_ms
              THEN 1 ELSE 0 END AS sure
  FROM order_all o
  JOIN clicks c ON c.event_id = o.click_id
  JOIN campaigns k ON k.campaign_id = c.campaign_id
  WHERE NOT c.bot AND NOT c.duplicate AND c.device_key <> ''
),
sure_order AS (
  SELECT DISTINCT order_id AS sure_id FROM token WHERE sure = 1
),
unsure AS (
  SELECT c.* FROM converted c LEFT JOIN sure_order s ON s.sure_id = c.order_id
  WHERE s.sure_id IS NULL
),
buyer_device AS (
  SELECT buyer_hash, device_key FROM token
  UNION
  SELECT buyer_hash, device_hash FROM order_all WHERE device_hash IS NOT NULL
),
identity AS (
  SELECT c.*, 1 AS tier, k.device_key AS key, k.until_ms
  FROM token k JOIN converted c ON c.order_id = k.order_id
  UNION ALL
  SELECT c.*, 2, c.device_hash, c.placed_ms FROM unsure c WHERE c.device_hash IS NOT NULL
  UNION ALL
  SELECT c.*, 3, b.device_key, c.placed_ms
  FROM unsure c JOIN buyer_device b ON b.buyer_hash = c.buyer_hash
),
candidate AS (
  SELECT i.order_id, i.seller_id AS merchant_id, i.platform_id, i.tier, i.paid_fen,
         i.refunded_fen, i.placed_ms, i.paid_ms, t.touch_id, t.kind, t.ts_ms, t.campaign_id,
         t.placement_id, t.creative_id, t.affiliate_id, t.traffic_seller_id, t.source_platform,
         t.device_key
  FROM identity i
  JOIN touch t ON t.device_key = i.key AND t.platform_id = i.platform_id
   AND (t.merchant_id = '' OR t.merchant_id = i.seller_id)
  WHERE t.ts_ms <= i.until_ms AND t.ts_ms <= i.placed_ms AND t.ts_ms >= i.placed_ms - t.window_ms
),
"""

# Every touchpoint of each order's best tier (what the multi-touch models need) ...
_ALL = """
best AS (
  SELECT order_id, min(tier) AS best FROM candidate GROUP BY order_id
),
journey AS (
  SELECT c.* FROM candidate c JOIN best b ON b.order_id = c.order_id AND c.tier = b.best
)"""

# ... or only the one a single-touch model credits, chosen in the engine by one aggregate:
# the best tier, then a click over a view, then the latest (last click) or earliest (first
# click) time, packed in one BIGINT (ts_ms < 2^44 until the year 2527), then the touch id
# (the larger for last click, the smaller for first, as the full journey's order would give).
_PICK = """
picked AS (
  SELECT order_id AS pick_order, {chosen} AS m FROM candidate GROUP BY order_id
),
journey AS (
  SELECT pick_order AS order_id, {fields} FROM picked
)"""
_PICK_KEY = "(3 - tier) * 70368744177664 + CASE WHEN kind = 'click' THEN 35184372088832 ELSE 0 END"
PICKS = {
    "last_click": ("max", f"{_PICK_KEY} + ts_ms"),
    "first_click": ("min", f"-({_PICK_KEY} + (17592186044416 - ts_ms))"),
}


def _pick(d: Dialect, pick: str) -> str:
    agg, key = PICKS[pick]
    carried = [n for n in JOURNEY.names if n != "order_id"]
    payload = d.struct([(n, n) for n in carried])
    unique_key = d.struct([(key, "pick_key"), ("touch_id", "touch_id")])
    chosen = d.arg_max(payload, unique_key) if agg == "max" else d.arg_min(payload, unique_key)
    fields = ", ".join(f"m.{n} AS {n}" for n in carried)
    return _PICK.format(chosen=chosen, fields=fields)


def _ctes(d: Dialect, scope: Scope, pick: str | None = None) -> str:
    """The CTEs up to ``journey``: every touchpoint of the best tier, or with ``pick`` (a
    single-touch model) only the touchpoint it credits."""
    tail = _ALL if pick is None else _pick(d, pick)
    return (_CTES + tail).format(
        click_ts=d.ms("c.ts"),
        view_ts=d.ms("i.ts"),
        from_ms=scope.from_ms,
        to_ms=scope.to_ms,
    )


def journeys_sql(d: Dialect, scope: Scope, pick: str | None = None) -> str:
    columns = ", ".join(JOURNEY.names)
    return _ctes(d, scope, pick) + f"\nSELECT {columns} FROM journey"


def conversions_sql(d: Dialect, scope: Scope) -> str:
    """The paid orders in scope (touching no touchpoint: engines skip the unused CTEs)."""
    columns = ", ".join(
        "seller_id AS merchant_id" if n == "merchant_id" else n for n in CONVERSION.names
    )
    return _ctes(d, scope) + f"\nSELECT {columns} FROM converted"


def paths_sql(d: Dialect, scope: Scope, channel: str) -> str:
    """Touchpoints in scope that lead to no conversion, for the Markov chain's null paths: each
    device's are one path."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    lower = scope.from_ms - scope.lookback_days * DAY_MS
    tail = (
        "\nSELECT t.device_key, t.ts_ms, t.touch_id, t.{channel} AS channel FROM touch t "
        "LEFT JOIN (SELECT DISTINCT touch_id FROM journey) j ON j.touch_id = t.touch_id "
        "WHERE j.touch_id IS NULL AND t.ts_ms >= {lower} AND t.ts_ms < {upper}"
    )
    return _ctes(d, scope) + tail.format(channel=channel, lower=lower, upper=scope.to_ms)


def normalise(table: pa.Table, schema: pa.Schema, keys: list[tuple[str, str]]) -> pa.Table:
    """Same types and row order from both engines (Spark answers large strings and no order)."""
    table = table.select(schema.names)
    columns = []
    for field in schema:
        column = table[field.name].cast(field.type)
        if pa.types.is_string(field.type):
            column = pc.fill_null(column, "")
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema).sort_by(keys)


def journeys(engine: Engine, scope: Scope, pick: str | None = None) -> pa.Table:
    """Every attributed order's touchpoints, orders by id, touchpoints oldest first; with
    ``pick`` (``last_click`` or ``first_click``) only the touchpoint that model credits."""
    if pick is not None and pick not in PICKS:
        raise ValueError(f"only {', '.join(PICKS)} pick one touchpoint in the engine")
    raw = engine.query(journeys_sql(engine.dialect, scope, pick))
    keys = [("order_id", "ascending")]  # one row per order when picked
    if pick is None:
        keys += [("ts_ms", "ascending"), ("touch_id", "ascending")]
    return normalise(raw, JOURNEY, keys)


def conversions(engine: Engine, scope: Scope) -> pa.Table:
    """Every paid order placed in scope, attributed or not."""
    raw = engine.query(conversions_sql(engine.dialect, scope))
    return normalise(raw, CONVERSION, [("order_id", "ascending")])


def null_paths(engine: Engine, scope: Scope, channel: str) -> pa.Table:
    raw = engine.query(paths_sql(engine.dialect, scope, channel))
    keys = [("device_key", "ascending"), ("ts_ms", "ascending"), ("touch_id", "ascending")]
    return normalise(raw, PATH, keys)
