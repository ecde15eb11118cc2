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
from typing import TypeVar

import pyarrow.compute as pc
import pyarrow.parquet as pq

from common import command_line, machine, write_section
from hutong.attribution.runs import Request, compute
from hutong.attribution.weights import markov_removal_effects, markov_shares
from hutong.lake.engines.duck import DuckEngine
from hutong.sim.synthetic import generate as generate_traffic
from markov_data import generate as generate_journeys
from markov_data import path_table, write

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
BENCH_ENV = HERE / ".venv"


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
    done = subprocess.run(
        [str(python), str(HERE / "baselines" / "asof.py"), str(bare), str(rounds)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, dict[str, float]] = json.loads(done.stdout)
    return result


def markov(python: Path, journeys: int, rounds: int, work: Path) -> list[dict[str, object]]:
    paths, _ = generate_journeys(journeys)
    collapsed = paths.collapsed()  # channelattribution is given the same collapsed paths
    source = write(path_table(collapsed), work / "paths.parquet")
    total = float(collapsed.conversions.sum())
    rows = []
    for order in (1, 3):
        ours_s, effects = median_time(
            lambda o=order: markov_removal_effects(collapsed, o), rounds if order == 1 else 1
        )
        done = subprocess.run(
            [
                str(python),
                str(HERE / "baselines" / "markov.py"),
                str(source),
                str(order),
                str(rounds if order == 1 else 1),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        theirs = json.loads(done.stdout)
        shares = markov_shares(effects)
        gap = max(
            abs(shares[c] * total - float(theirs["conversions"].get(c, 0.0))) / total
            for c in shares
        )
        rows.append({"order": order, "ours": ours_s, "theirs": theirs["seconds"], "gap": gap})
        print(
            f"markov order {order}: ours {ours_s:.2f} s, channelattribution "
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
    args = parser.parse_args()
    if args.quick:
        args.clicks, args.orders, args.journeys, args.rounds = 200_000, 20_000, 20_000, 1
    python = bench_python()
    lines = []
    with tempfile.TemporaryDirectory(prefix="hutong-bench-attr-") as tmp:
        work = Path(tmp)
        for label, shuffled in (("time order", False), ("shuffled", True)):
            root = work / label.replace(" ", "-")
            generate_traffic(root, args.clicks, args.orders, shuffled=shuffled)
            mine, attributed = ours(root, args.rounds)
            theirs = baselines(python, root / "bare", args.rounds)
            fastest = min(v["seconds"] for v in theirs.values())
            print(
                f"{label}: ours {mine:.2f} s; "
                + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in theirs.items()),
                file=sys.stderr,
            )
            lines.append((label, mine, attributed, theirs, fastest))
        markov_rows = markov(python, args.journeys, args.rounds, work)
    body = [
        "## Attribution (`bench/attribution.py`)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine()}  ",
        f"Data: {args.clicks:,} clicks, {args.orders:,} paid orders (60% token, 25% device id, "
        "15% buyer hash; 5% duplicate and 3% bot clicks); median of "
        f"{args.rounds} round(s), reading the files included on every side.",
        "",
        "| input | hutong last click (whole pipeline) | pandas merge_asof | polars join_asof "
        "| DuckDB ASOF JOIN | hutong ÷ fastest bare join |",
        "|---|---|---|---|---|---|",
    ]
    for label, mine, attributed, theirs, fastest in lines:
        cells = " | ".join(
            f"{theirs[k]['seconds']:.2f} s"
            for k in ("pandas merge_asof", "polars join_asof", "DuckDB ASOF JOIN")
        )
        body.append(
            f"| {label} | {mine:.2f} s ({attributed:,} orders credited) | {cells} "
            f"| **{mine / fastest:.2f}×** |"
        )
    body += [
        "",
        "Goal: the whole pipeline within 1.5× of the fastest bare join.",
        "",
        f"Markov removal effects, {args.journeys:,} journeys over 50 channels (exact sparse "
        "solves against channelattribution's simulation, one core each):",
        "",
        "| order | hutong (exact) | channelattribution | speed-up | largest gap in a channel's "
        "share of conversions |",
        "|---|---|---|---|---|",
    ]
    for row in markov_rows:
        body.append(
            f"| {row['order']} | {row['ours']:.2f} s | {row['theirs']:.2f} s | "
            f"**{float(row['theirs']) / float(row['ours']):.1f}×** | {float(row['gap']):.4f} |"
        )
    body += ["", "Goal: at least 2× channelattribution at order 1 and 10× at order 3."]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("attribution", text)


if __name__ == "__main__":
    main()
