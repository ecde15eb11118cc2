"""The bare joins the attribution benchmark compares hutong with: each order to the last click
on the same device at or before it, within 7 days, by pandas ``merge_asof``, polars
``join_asof`` and DuckDB's ``ASOF JOIN``. Run in the benchmark's own environment (it imports
nothing of hutong); prints one JSON object of timings in seconds (read included, so every side
starts from the same files) and the process's peak memory (run one join per process to
have each its own).

    python bench/baselines/asof.py DATA_DIR ROUNDS
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from peak import peak_rss_mb

WINDOW_MS = 7 * 86_400_000


def pandas_join(data: Path) -> int:
    import pandas as pd

    clicks = pd.read_parquet(data / "clicks.parquet").sort_values("ts", kind="stable")
    orders = pd.read_parquet(data / "orders.parquet").sort_values("ts", kind="stable")
    joined = pd.merge_asof(
        orders,
        clicks,
        on="ts",
        by="device",
        direction="backward",
        tolerance=WINDOW_MS,
        suffixes=("", "_click"),
    )
    return int(joined["event_id"].notna().sum())


def polars_join(data: Path) -> int:
    import polars as pl

    clicks = pl.read_parquet(data / "clicks.parquet").sort("ts")
    orders = pl.read_parquet(data / "orders.parquet").sort("ts")
    joined = orders.join_asof(
        clicks, on="ts", by="device", strategy="backward", tolerance=WINDOW_MS
    )
    return int(joined["event_id"].is_not_null().sum())


def duckdb_join(data: Path) -> int:
    import duckdb

    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    found = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE o.ts - c.ts <= {WINDOW_MS})
        FROM read_parquet('{data / "orders.parquet"}') o
        ASOF LEFT JOIN read_parquet('{data / "clicks.parquet"}') c
          ON o.device = c.device AND o.ts >= c.ts
        """
    ).fetchone()
    con.close()
    return int(found[0]) if found else 0


JOINS: dict[str, Callable[[Path], int]] = {
    "pandas merge_asof": pandas_join,
    "polars join_asof": polars_join,
    "DuckDB ASOF JOIN": duckdb_join,
}


def main() -> None:
    warnings.simplefilter("ignore")  # polars: "sortedness cannot be checked" with by-groups
    data, rounds = Path(sys.argv[1]), int(sys.argv[2])
    only = sys.argv[3:] or list(JOINS)
    out: dict[str, dict[str, float | int]] = {}
    for name in only:
        times, matched = [], 0
        for _ in range(rounds):
            start = time.perf_counter()
            matched = JOINS[name](data)
            times.append(time.perf_counter() - start)
        peak_mb = peak_rss_mb()
        out[name] = {"seconds": statistics.median(times), "matched": matched, "peak_mb": peak_mb}
        print(name, out[name], file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
