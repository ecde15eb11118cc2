"""`hutong simulate` writes a synthetic Double 11 history straight to a lake, in the lake's
own format: `hutong report` on it counts exactly what was written."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.dataset as ds

from tests.serving import cli, env_for


def test_simulate_then_report(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    env = env_for(out)
    done = cli(env, "simulate", "--clicks", "20000", "--orders", "2000", "--out", str(out))
    assert "20,000 clicks and 2,000 orders" in done.stdout
    clicks = ds.dataset(out / "lake" / "clicks", partitioning="hive").to_table()
    assert clicks.num_rows == 20_000
    valid = sum(
        not (d or b)
        for d, b in zip(clicks["duplicate"].to_pylist(), clicks["bot"].to_pylist(), strict=True)
    )
    again = cli(env, "simulate", "--out", str(out), check=False)
    assert again.returncode != 0 and "not empty" in again.stderr + again.stdout  # never mixed

    cli(env, "db", "upgrade")
    rows_csv = tmp_path / "overview.csv"
    cli(env, "report", "--from", "2024-11-01", "--to", "2024-11-20", "--out", str(rows_csv))
    with open(rows_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["platform_id"] for r in rows} == {"taobao"}
    assert sum(int(r["paid_orders"]) for r in rows) == 2_000
    assert sum(int(r["clicks"]) for r in rows) == valid
