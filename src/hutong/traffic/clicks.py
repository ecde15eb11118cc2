"""Reading clicks back from the lake (DuckDB over the day-partitioned Parquet files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from hutong.lake.compact import lake_glob

CLICK_COLUMNS = (
    "click_id, ts, code, campaign_id, placement_id, source_platform, app_platform, "
    "target_platform, surface, via, mode, allowed, policy_version, device, duplicate, bot, "
    "bot_reason, billable"
)
SCOPE_COLUMNS = frozenset({"seller_id", "buyer_id", "affiliate_id"})


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never reaches the network for extensions."""
    return duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )


def visible_clicks(
    lake_dir: Path,
    scope: tuple[str, list[str]] | None,
    campaign_id: str | None,
    day: dt.date | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Clicks in ``scope`` (column, allowed ids; None = everything), newest first."""
    if not (lake_dir / "clicks").exists():
        return []
    where = ["1=1"]
    params: list[Any] = []
    if scope is not None:
        column, ids = scope
        assert column in SCOPE_COLUMNS
        if not ids:
            return []
        where.append(f"{column} IN ({', '.join('?' for _ in ids)})")
        params.extend(ids)
    if campaign_id is not None:
        where.append("campaign_id = ?")
        params.append(campaign_id)
    if day is not None:
        where.append("day = ?")
        params.append(day.isoformat())
    # Only fixed column names and placeholders are interpolated; every value is a parameter.
    sql = (
        f"SELECT {CLICK_COLUMNS} FROM read_parquet(?, hive_partitioning = true) "  # noqa: S608
        f"WHERE {' AND '.join(where)} ORDER BY ts DESC LIMIT {int(limit)}"
    )
    with connect() as con:
        cursor = con.execute(sql, [lake_glob(lake_dir, "clicks"), *params])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
