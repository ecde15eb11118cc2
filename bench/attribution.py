"""Attribution speed: hutong's whole last-click pipeline on DuckDB against the bare as-of
joins of pandas, polars and DuckDB on the same data, sorted and shuffled; and the exact Markov
model (orders 1 and 3) against ``channelattribution``, in the same run.

- Pipeline: 10,000,000 clicks and 1,000,000 paid orders (``hutong.sim.synthetic``: 60% of orders
  with a click token, 25% a device id only, 15% a buyer hash only; 5% duplicate and 3% bot
  clicks), written as the lake writes them. Timed from the files to the credits in fen:
  register the lake, resolve the three identity tiers, apply each campaign's window, drop bots
  and duplicates, pick each order's last click, credit it, list the conversions
  (``attribution.runs.compute``, the code ``hutong attribute`` runs).
- Baselines (``baselines/asof.py``, in the benchmark's own environment ``bench/.venv``): each
  order joined to the last non-bot, non-duplicate click on its already-resolved device within 7
  days, from Parquet files of the same rows, reading included.
- Markov: 1,000,000 journeys over 50 channels (``markov_data``), removal effects at order 1
  and 3 (``attribution.weights.markov_removal_effects``, exact) against
  ``ChannelAttribution.markov_model`` (Monte-Carlo, one core, its defaults), the same paths.

Figures and this command line go to docs/benchmarks.md.

    python bench/attribution.py               # the sizes above, 3 rounds (order 3: 1 round)
    python bench/attribution.py --quick       # 200,000 clicks, 20,000 journeys, 1 round
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common import command_line, machine, peak_rss_mb, write_section
from hutong.attribution.runs import Request, compute
from hutong.attribution.weights import Paths, markov_removal_effects, markov_shares
from hutong.lake.engines.duck import DuckEngine
from hutong.sim.synthetic import generate as generate_traffic
from markov_data import generate as generate_journeys
from markov_data import path_table, write

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
BENCH_ENV = HERE / ".venv"
JOINS = ("pandas merge_asof", "polars join_asof", "DuckDB ASOF JOIN")  # baselines/asof.py's


def bench_python() -> Path:
    """The benchmark's own environment (pandas, polars, channelattribution), made once."""
    python = BENCH_ENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_ENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(HERE / "requirements-baselines.txt"),
            ],
            check=True,
        )
    return python


def median_time(run: Callable[[], T], rounds: int) -> tuple[float, T]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def in_child(*args: str) -> dict[str, Any]:
    """Run one side's measurement in a fresh process of this script, so that the memory peak
    it reports is that side's own (not the generator's, nor the other sides')."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def child(kind: str, *args: str) -> dict[str, Any]:
    """The measurement ``in_child`` asked for, with this process's peak memory."""
    if kind == "pipeline":
        seconds, credited = ours(Path(args[0]), int(args[1]))
        out: dict[str, Any] = {"seconds": seconds, "credited": credited}
    else:
        paths, order, rounds = read_paths(Path(args[0])), int(args[1]), int(args[2])
        seconds, effects = median_time(lambda: markov_removal_effects(paths, order), rounds)
        out = {"seconds": seconds, "effects": effects}
    return {**out, "peak_mb": peak_rss_mb()}


def save_paths(paths: Paths, where: Path) -> Path:
    fields = ("codes", "starts", "ends", "conversions", "nulls")
    np.savez(where, names=np.array(paths.names), **{f: getattr(paths, f) for f in fields})
    return where


def read_paths(where: Path) -> Paths:
    with np.load(where) as saved:
        arrays = {f: saved[f] for f in ("codes", "starts", "ends", "conversions", "nulls")}
        return Paths(names=saved["names"].tolist(), **arrays)


def ours(root: Path, rounds: int) -> tuple[float, int]:
    generated_campaigns = pq.read_table(root / "campaigns.parquet")
    request = Request(dt.date(2024, 11, 1), dt.date(2024, 11, 20), ("last_click",))

    def once() -> int:
        engine = DuckEngine()
        try:
            credits = compute(root / "lake", generated_campaigns, request, engine).credits.table
            return int(pc.sum(pc.greater(credits["last_click_fen"], 0)).as_py() or 0)
        finally:
            engine.close()

    return median_time(once, rounds)


def baselines(python: Path, bare: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Each bare join in a process of its own (its own memory peak)."""
    found: dict[str, dict[str, float]] = {}
    for name in JOINS:
        done = subprocess.run(
            [str(python), str(HERE / "baselines" / "asof.py"), str(bare), str(rounds), name],
            check=True,
            capture_output=True,
            text=True,
        )
        found.update(json.loads(done.stdout))
    return found


def markov(python: Path, journeys: int, rounds: int, work: Path) -> list[dict[str, Any]]:
    paths, _ = generate_journeys(journeys)
    collapsed = paths.collapsed()  # channelattribution is given the same collapsed paths
    source = write(path_table(collapsed), work / "paths.parquet")
    saved = save_paths(collapsed, work / "paths.npz")
    total = float(collapsed.conversions.sum())
    rows = []
    for order in (1, 3):
        times = str(rounds if order == 1 else 1)
        mine = in_child("markov", str(saved), str(order), times)
        done = subprocess.run(
            [str(python), str(HERE / "baselines" / "markov.py"), str(source), str(order), times],
            check=True,
            capture_output=True,
            text=True,
        )
        theirs = json.loads(done.stdout)
        shares = markov_shares(mine["effects"])
        gap = max(
            abs(shares[c] * total - float(theirs["conversions"].get(c, 0.0))) / total
            for c in shares
        )
        rows.append({"order": order, "ours": mine, "theirs": theirs, "gap": gap})
        print(
            f"markov order {order}: ours {mine['seconds']:.2f} s, channelattribution "
            f"{theirs['seconds']:.2f} s, largest share gap {gap:.4f}",
            file=sys.stderr,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (CI)")
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # in_child's
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.quick:
        args.clicks, args.orders, args.journeys, args.rounds = 200_000, 20_000, 20_000, 1
    python = bench_python()
    lines = []
    with tempfile.TemporaryDirectory(prefix="hutong-bench-attr-") as tmp:
        work = Path(tmp)
        for label, shuffled in (("time order", False), ("shuffled", True)):
            root = work / label.replace(" ", "-")
            generate_traffic(root, args.clicks, args.orders, shuffled=shuffled)
            mine = in_child("pipeline", str(root), str(args.rounds))
            theirs = baselines(python, root / "bare", args.rounds)
            print(
                f"{label}: ours {mine['seconds']:.2f} s; "
                + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in theirs.items()),
                file=sys.stderr,
            )
            lines.append((label, mine, theirs))
        markov_rows = markov(python, args.journeys, args.rounds, work)
    text = report(args, lines, markov_rows)
    print(text)
    if not args.no_write:
        write_section("attribution", text)


def report(
    args: argparse.Namespace,
    lines: list[tuple[str, dict[str, Any], dict[str, dict[str, float]]]],
    markov_rows: list[dict[str, Any]],
) -> str:
    body = [
        "## Attribution (`bench/attribution.py`)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine()}  ",
        f"Data: {args.clicks:,} clicks, {args.orders:,} paid orders (60% token, 25% device id, "
        "15% buyer hash; 5% duplicate and 3% bot clicks); median of "
        f"{args.rounds} round(s), reading the files included on every side.",
        "",
        "| input | hutong last click (whole pipeline) | "
        + " | ".join(JOINS)
        + " | hutong ÷ fastest bare join |",
        "|---|---|---|---|---|---|",
    ]
    for label, mine, theirs in lines:
        fastest = min(v["seconds"] for v in theirs.values())
        cells = " | ".join(f"{theirs[k]['seconds']:.2f} s" for k in JOINS)
        body.append(
            f"| {label} | {mine['seconds']:.2f} s ({mine['credited']:,} orders credited) "
            f"| {cells} | **{mine['seconds'] / fastest:.2f}×** |"
        )
    for label, mine, theirs in lines:
        cells = " | ".join(f"{theirs[k]['peak_mb']:,.0f} MB" for k in JOINS)
        body.append(f"| peak memory, {label} | {mine['peak_mb']:,.0f} MB | {cells} | |")
    body += [
        "",
        "Goal: the whole pipeline within 1.5× of the fastest bare join. Each side runs in a "
        "process of its own; its peak memory is that process's (resident, imports included).",
        "",
        f"Markov removal effects, {args.journeys:,} journeys over 50 channels (exact sparse "
        "solves against channelattribution's simulation, one core each):",
        "",
        "| order | hutong (exact) | channelattribution | speed-up | largest gap in a channel's "
        "share of conversions | peak memory, hutong / channelattribution |",
        "|---|---|---|---|---|---|",
    ]
    for row in markov_rows:
        mine, theirs = row["ours"], row["theirs"]
        body.append(
            f"| {row['order']} | {mine['seconds']:.2f} s | {theirs['seconds']:.2f} s | "
            f"**{theirs['seconds'] / mine['seconds']:.1f}×** | {row['gap']:.4f} "
            f"| {mine['peak_mb']:,.0f} MB / {theirs['peak_mb']:,.0f} MB |"
        )
    body += ["", "Goal: at least 2× channelattribution at order 1 and 10× at order 3."]
    return "\n".join(body)


if __name__ == "__main__":
    main()
