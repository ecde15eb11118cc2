"""Live counters: events per second in process on columnar batches beside a DuckDB GROUP BY
over the same batches (one thread each, in the same run); events per second over HTTP through
the batch intake of a running ``hutong serve``; and the report of a replayed session at the
scale of the article's 與輝同行 session (87.4 million views, about 400 products, 5.1 million
orders). Figures and this command line go to docs/benchmarks.md.

    python bench/live.py                # 3 rounds; the full 87.4M-view replay (about 12 GB)
    python bench/live.py --quick        # 1 round, small sizes (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa

from common import command_line, free_port, machine, peak_rss_mb, wait_http, write_section
from hutong.live.counters import KINDS, Batch, LiveCounters
from live_data import START, Replay

HUTONG = [sys.executable, "-m", "hutong.cli"]
SHELF = 400


def in_process(replay: Replay, rounds: int) -> tuple[list[float], list[float], int]:
    """Events per second of the counters and of DuckDB over the same batches."""
    batches = list(replay.batches())
    events = sum(len(b) for b in batches)
    tables = [
        pa.table(
            {"kind": b.kind, "ts_ms": b.ts_ms, "product": b.product, "amount_fen": b.amount_fen}
        )
        for b in batches
    ]
    con = duckdb.connect()
    con.execute("SET threads = 1")
    ours, theirs = [], []
    for _ in range(rounds):
        counters = LiveCounters(START)
        started = time.perf_counter()
        for batch in batches:
            counters.add(batch)
        ours.append(events / (time.perf_counter() - started))
        started = time.perf_counter()
        for table in tables:
            con.register("batch", table)
            con.execute(
                "SELECT kind, (ts_ms - $start) // 60000 AS minute, product, count(*), "
                "sum(amount_fen) FROM batch GROUP BY ALL",
                {"start": START},
            ).fetchall()
            con.unregister("batch")
        theirs.append(events / (time.perf_counter() - started))
    return ours, theirs, events


def as_json(batch: Batch, shelf: list[str]) -> list[dict[str, Any]]:
    out = []
    for eid, kind, ts, viewer, product, order, amount in zip(
        *(getattr(batch, f).tolist() for f in vars(batch)), strict=True
    ):
        name = KINDS[kind]
        event: dict[str, Any] = {"event_id": str(eid), "kind": name, "ts_ms": ts}
        if name in ("enter", "leave"):
            event["viewer"] = str(viewer)
        if product >= 0:
            event["product_ref"] = shelf[product]
        if name in ("order", "refund"):
            event["order_ref"] = str(order)
            event["amount_fen"] = amount
        out.append(event)
    return out


def over_http(replay: Replay, work: Path, per_request: int, concurrency: int) -> tuple[float, int]:
    env = {
        **os.environ,
        "HUTONG_DATA_DIR": str(work / "data"),
        "HUTONG_DATABASE_URL": f"sqlite:///{work / 'hutong.sqlite3'}",
        "HUTONG_LOG_LEVEL": "WARNING",
        "HUTONG_EMBEDDED_WORKER": "0",
    }
    run = {"env": env, "capture_output": True, "text": True, "check": True}
    subprocess.run([*HUTONG, "db", "upgrade"], **run)  # type: ignore[call-overload]
    subprocess.run([*HUTONG, "seed"], **run)  # type: ignore[call-overload]
    key = json.loads(
        subprocess.run([*HUTONG, "tenants", "key", "--platform", "douyin"], **run).stdout  # type: ignore[call-overload]
    )["key"]
    port = free_port()
    env["HUTONG_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*HUTONG, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", server)
        shelf = [f"p{i}" for i in range(SHELF)]
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            streamer = client.post("/v1/streamers", json={"handle": "bench", "name": "bench"})
            products = [{"product_ref": r, "title": r, "price_fen": 9_900} for r in shelf]
            session = client.post(
                "/v1/live/sessions",
                json={
                    "streamer_id": streamer.json()["id"],
                    "title": "bench",
                    "starts_at": "2024-11-10T20:00:00+08:00",
                    "products": products,
                },
            ).json()["id"]
        events = [e for b in replay.batches() for e in as_json(b, shelf)]
        bodies = [
            json.dumps({"events": events[i : i + per_request]}).encode()
            for i in range(0, len(events), per_request)
        ]
        seconds = asyncio.run(_post_all(url, headers, session, bodies, concurrency))
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            counted = client.get(f"/v1/live/sessions/{session}/counters").json()["applied"]
        return len(events) / seconds, counted
    finally:
        server.terminate()
        server.wait(timeout=15)


async def _post_all(
    url: str, headers: dict[str, str], session: str, bodies: list[bytes], concurrency: int
) -> float:
    queue = list(reversed(bodies))
    headers = {**headers, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:

        async def poster() -> None:
            while queue:
                body = queue.pop()
                answer = await client.post(f"/v1/live/sessions/{session}/events", content=body)
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        return time.perf_counter() - started


def report_at_scale(views: int, orders: int) -> dict[str, float]:
    """Replay the session into the counters, then produce its report."""
    from hutong.live.models import LiveSession
    from hutong.live.report import session_report

    replay = Replay(views, orders, minutes=360, products=SHELF)
    counters = LiveCounters(START)
    ingest = 0.0
    for batch in replay.batches():
        started = time.perf_counter()
        counters.add(batch)
        ingest += time.perf_counter() - started
    started = time.perf_counter()
    snap = counters.snapshot([f"p{i}" for i in range(SHELF)])
    live = LiveSession(id="lvs_bench", streamer_id="str_bench", title="bench", state="ended")
    report = session_report(live, [], snap)
    reporting = time.perf_counter() - started
    return {
        "events": replay.events,
        "ingest_s": ingest,
        "report_s": reporting,
        "views": report.views,
        "orders": report.orders,
        "peak": report.peak_viewers,
        "rss_gb": peak_rss_mb() / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, small sizes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    views, orders = (200_000, 12_000) if args.quick else (5_000_000, 300_000)
    http_views = 20_000 if args.quick else 200_000
    scale = (874_000, 51_000) if args.quick else (87_400_000, 5_100_000)

    ours, theirs, events = in_process(Replay(views, orders, 360, SHELF), rounds)
    rate, duck = statistics.median(ours), statistics.median(theirs)
    print(f"in process: {rate:,.0f} events/s vs DuckDB {duck:,.0f}")
    work = Path(tempfile.mkdtemp(prefix="hutong-live-"))
    try:
        http_rate, counted = over_http(
            Replay(http_views, http_views // 17, 360, SHELF), work, 5_000, 4
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"over HTTP: {http_rate:,.0f} events/s ({counted:,} counted)")
    big = report_at_scale(*scale)
    ingest, reporting = big["ingest_s"], big["report_s"]
    print(f"replay of {big['events']:,.0f} events: ingest {ingest:.1f} s, report {reporting:.2f} s")
    if args.no_write:
        return
    ratio = rate / duck
    ours_row = "hutong counters (dedupe, orders once by ref, presence, per minute and product)"
    http_row = (
        "over HTTP: `POST /v1/live/sessions/{id}/events`, 5,000 per request, 4 clients, "
        "one `hutong serve` on SQLite"
    )
    body = "\n".join(
        [
            "## Live counters",
            "",
            f"Events per second, median of {rounds}, one thread each, the same columnar batches "
            f"(a {views:,}-view session: {events:,} events in 361 batches, a few late and "
            "a few twice):",
            "",
            "| | events per second |",
            "|---|---|",
            f"| DuckDB `GROUP BY kind, minute, product` per batch | {duck:,.0f} |",
            f"| {ours_row} | {rate:,.0f} |",
            f"| **ratio counters / DuckDB** | **{ratio:.2f}** |",
            f"| {http_row} | {http_rate:,.0f} |",
            "",
            f"Replay at scale: {scale[0]:,} views and {scale[1]:,} orders "
            f"({big['events']:,.0f} events with leaves, likes, late and repeated ones) counted "
            f"in {ingest:.1f} s ({big['events'] / ingest:,.0f} events/s); the session report "
            f"from the counters in {reporting:.2f} s (peak {big['peak']:,.0f} concurrent viewers; "
            f"peak memory {big['rss_gb']:.1f} GB with the generator's arrays).",
            "",
            "Goals: at least 1,000,000 events per second into the counters on one core; the "
            "report in under a minute.",
            "",
            f"Machine: {machine()}. Command: `{command_line()}`.",
        ]
    )
    write_section("live", body)


if __name__ == "__main__":
    main()
