"""The overview: per Asia/Shanghai day and shelf platform, valid clicks into it, orders placed,
orders paid, GMV paid and refunded, conversion (paid orders per valid click) and GMV's growth
on the day before. Read from the lake only (clicks as compacted, orders as exported), by one
SQL definition that DuckDB and Spark both run, so a report never touches the live store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from hutong.attribution import journeys as J
from hutong.lake.engines import Dialect, Engine

SHANGHAI_MS = 8 * 3_600_000

OVERVIEW = pa.schema(
    [
        ("day", pa.date32()),
        ("platform_id", pa.string()),
        ("clicks", pa.int64()),
        ("orders", pa.int64()),
        ("paid_orders", pa.int64()),
        ("gmv_fen", pa.int64()),
        ("refunded_fen", pa.int64()),
    ]
)

_SQL = """
WITH click_day AS (
  SELECT CAST(floor(({click_ts} + {offset}) / {day_ms}) AS BIGINT) AS day_n,
         target_platform AS platform_id, count(*) AS clicks
  FROM clicks
  WHERE NOT bot AND NOT duplicate AND {click_ts} >= {lo} AND {click_ts} < {hi}
  GROUP BY CAST(floor(({click_ts} + {offset}) / {day_ms}) AS BIGINT), target_platform
),
order_day AS (
  SELECT CAST(floor((placed_ms + {offset}) / {day_ms}) AS BIGINT) AS day_n, platform_id,
         count(*) AS orders,
         sum(CASE WHEN paid_ms IS NOT NULL THEN 1 ELSE 0 END) AS paid_orders,
         sum(CASE WHEN paid_ms IS NOT NULL THEN paid_fen ELSE 0 END) AS gmv_fen,
         sum(refunded_fen) AS refunded_fen
  FROM order_latest
  WHERE placed_ms >= {lo} AND placed_ms < {hi}
  GROUP BY CAST(floor((placed_ms + {offset}) / {day_ms}) AS BIGINT), platform_id
)
SELECT coalesce(o.day_n, c.day_n) AS day_n, coalesce(o.platform_id, c.platform_id) AS platform_id,
       coalesce(c.clicks, 0) AS clicks, coalesce(o.orders, 0) AS orders,
       coalesce(o.paid_orders, 0) AS paid_orders, coalesce(o.gmv_fen, 0) AS gmv_fen,
       coalesce(o.refunded_fen, 0) AS refunded_fen
FROM order_day o FULL OUTER JOIN click_day c ON o.day_n = c.day_n AND o.platform_id = c.platform_id
"""


def overview_sql(d: Dialect, start: dt.date, end: dt.date) -> str:
    scope = J.Scope(start, end, 0)
    return _SQL.format(
        click_ts=d.ms("ts"),
        offset=SHANGHAI_MS,
        day_ms=J.DAY_MS,
        lo=scope.from_ms,
        hi=scope.to_ms,
    )


def overview(
    engine: Engine, lake_dir: Path, campaigns: pa.Table, start: dt.date, end: dt.date
) -> pa.Table:
    """Days in [start, end), each shelf platform with clicks or orders that day."""
    J.register(engine, lake_dir, campaigns, J.Scope(start, end, 0))
    raw = engine.query(overview_sql(engine.dialect, start, end))
    days = [dt.date(1970, 1, 1) + dt.timedelta(days=int(n)) for n in raw["day_n"].to_pylist()]
    table = raw.drop_columns(["day_n"]).append_column("day", pa.array(days, pa.date32()))
    return J.normalise(table, OVERVIEW, [("day", "ascending"), ("platform_id", "ascending")])


def with_rates(table: pa.Table) -> list[dict[str, object]]:
    """Rows with conversion (paid orders per click) and GMV growth on the platform's day
    before (None where there is nothing to compare)."""
    previous: dict[str, int] = {}
    out = []
    for row in table.to_pylist():
        before = previous.get(row["platform_id"])
        growth = (row["gmv_fen"] - before) / before if before else None
        out.append(
            {
                **row,
                "conversion": row["paid_orders"] / row["clicks"] if row["clicks"] else None,
                "growth": growth,
            }
        )
        previous[row["platform_id"]] = row["gmv_fen"]
    return out
