"""Flash sale: many buyers for few units on PostgreSQL, exactly as many sold as there are, and
how fast; beside the same conditional UPDATE through the bare driver, in the same run.

- Service layer: 1,000,000 attempts on 10,000 units from 16 threads (the issue's size), each
  attempt ``stock.reserve`` in its own transaction through hutong's store (SQLAlchemy, the
  session and pool the API uses), as ``create_order`` runs it. Reported for all attempts and
  for those made while units remained (once they are gone, hutong answers from its sold-out
  mark without the database; the baseline asks it every time).
- Baseline: the same ``UPDATE skus SET ... WHERE id = %s AND stock_available >= 1`` through
  psycopg, autocommit, one connection per thread.
- Over HTTP: 200 concurrent clients send ``POST /v1/orders`` to one ``hutong serve`` until
  2,000 attempts were made on 200 units.

Each run checks that exactly the units were sold, never one more. Figures and this command
line go to docs/benchmarks.md.

    python bench/flash.py            # the sizes above, 3 rounds
    python bench/flash.py --quick    # 20,000 attempts on 200 units; 1,000 over HTTP on 100
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from common import command_line, free_port, machine, peak_rss_mb, wait_http, write_section
from hutong.commerce import stock
from hutong.commerce.errors import InsufficientStock
from hutong.store import Store
from orders import ADDRESS, HUTONG, create_database, database_url, drop_database, seeded

THREADS = 16


@dataclass
class Storm:
    """One storm's outcome: how many attempts, in how long, and when the last unit went."""

    attempts: int
    seconds: float
    won: int
    selling_attempts: int  # attempts made until the last unit was won
    selling_seconds: float

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds

    @property
    def selling_rate(self) -> float:
        return self.selling_attempts / self.selling_seconds if self.selling_seconds else 0.0


def storm(attempts: int, take: Callable[[], bool]) -> Storm:
    """``attempts`` calls of ``take`` from THREADS threads."""
    left = [attempts]
    won = [0]
    last_win = [0.0, 0]  # when, after how many attempts
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            if take():
                with lock:
                    won[0] += 1
                    last_win[:] = [time.perf_counter(), attempts - left[0]]

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return Storm(attempts, elapsed, won[0], int(last_win[1]), max(last_win[0] - started, 0.0))


def ours(store: Store, sku: str) -> Callable[[], bool]:
    def take() -> bool:
        try:
            with store.transaction() as session:
                stock.reserve(session, sku, 1)
            return True
        except InsufficientStock:
            return False

    return take


def bare(url: str, sku: str) -> Callable[[], bool]:
    local = threading.local()

    def take() -> bool:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url, autocommit=True)
        done = conn.execute(
            "UPDATE skus SET stock_available = stock_available - 1, "
            "stock_reserved = stock_reserved + 1 WHERE id = %s AND stock_available >= 1",
            (sku,),
        )
        return done.rowcount == 1

    return take


def restock(url: str, sku: str, units: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE skus SET stock_available = %s, stock_reserved = 0, stock_sold = 0 "
            "WHERE id = %s",
            (units, sku),
        )


def counters(url: str, sku: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT stock_available, stock_reserved, stock_sold FROM skus WHERE id = %s", (sku,)
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


async def over_http(url: str, key: str, sku: str, attempts: int, clients: int) -> Counter[int]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    left = [attempts]
    codes: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:

        async def buyer() -> None:
            while left[0] > 0:
                left[0] -= 1
                n = left[0]
                body = {
                    "lines": [{"sku_id": sku, "quantity": 1}],
                    "buyer_ref": f"flash-{n}",
                    "ship_to": ADDRESS,
                }
                answer = await c.post("/v1/orders", json=body, headers={"Idempotency-Key": f"f{n}"})
                codes[answer.status_code] += 1

        await asyncio.gather(*(buyer() for _ in range(clients)))
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--http-attempts", type=int, default=2_000)
    parser.add_argument("--http-units", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    args = parser.parse_args()
    if args.quick:
        args.attempts, args.units, args.rounds = 20_000, 200, 1
        args.http_attempts, args.http_units = 1_000, 100
    db = f"hutong_flash_{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="hutong-flash-"))
    create_database(db)
    try:
        report(args, *run(args, db, work))
    finally:
        drop_database(db)
        shutil.rmtree(work, ignore_errors=True)


def run(
    args: argparse.Namespace, db: str, work: Path
) -> tuple[list[Storm], list[Storm], float, Counter[int], tuple[float, float]]:
    url = database_url(db)
    port = free_port()
    env, key = seeded(work, db, port)
    server = subprocess.Popen(
        [*HUTONG, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", server)
        items = [
            {"code": code, "title": "flash", "price_fen": 9_900, "stock": units}
            for code, units in (("STORM", args.units), ("HTTP", args.http_units))
        ]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            made = client.post("/v1/products", json={"title": "flash", "skus": items})
            made.raise_for_status()
        storm_sku, http_sku = (s["id"] for s in made.json()["skus"])
        store = Store.from_url(url)
        mine: list[Storm] = []
        theirs: list[Storm] = []
        for round_no in range(args.rounds):
            for label, take, storms in (
                ("hutong", ours(store, storm_sku), mine),
                ("bare", bare(url, storm_sku), theirs),
            ):
                restock(url, storm_sku, args.units)
                done = storm(args.attempts, take)
                left = counters(url, storm_sku)
                assert done.won == args.units and left == (0, args.units, 0), (label, done, left)
                storms.append(done)
                print(
                    f"  round {round_no + 1} {label}: {done.rate:,.0f} attempts/s "
                    f"({done.selling_rate:,.0f}/s while units remained)",
                    flush=True,
                )
        store.engine.dispose()
        started = time.perf_counter()
        codes = asyncio.run(over_http(base, key, http_sku, args.http_attempts, 200))
        http_rate = args.http_attempts / (time.perf_counter() - started)
        assert codes == {201: args.http_units, 409: args.http_attempts - args.http_units}, codes
        print(f"  over HTTP: {http_rate:,.0f} attempts/s, {dict(codes)}", flush=True)
        return mine, theirs, http_rate, codes, (peak_rss_mb(), peak_rss_mb(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=15)


def report(
    args: argparse.Namespace,
    mine: list[Storm],
    theirs: list[Storm],
    http_rate: float,
    codes: Counter[int],
    peaks: tuple[float, float],
) -> None:
    def median(storms: list[Storm], figure: str) -> float:
        return float(statistics.median(getattr(s, figure) for s in storms))

    ours_rate, bare_rate = median(mine, "rate"), median(theirs, "rate")
    ours_selling, bare_selling = median(mine, "selling_rate"), median(theirs, "selling_rate")
    print(f"flash sale: hutong {ours_rate:,.0f}/s, bare {bare_rate:,.0f}/s")
    if args.no_write:
        return
    body = "\n".join(
        [
            "## Flash sale (`bench/flash.py`, PostgreSQL)",
            "",
            f"{args.attempts:,} attempts on {args.units:,} units from {THREADS} threads, median "
            f"of {args.rounds}; every round sold exactly {args.units:,}, never one more:",
            "",
            "| attempts per second | all attempts | while units remained |",
            "|---|---|---|",
            "| the conditional UPDATE through psycopg, autocommit "
            f"| {bare_rate:,.0f} | {bare_selling:,.0f} |",
            "| hutong's `stock.reserve`, a transaction each through its store "
            f"| {ours_rate:,.0f} | {ours_selling:,.0f} |",
            f"| **ratio hutong / bare** | **{ours_rate / bare_rate:.2f}** "
            f"| **{ours_selling / bare_selling:.2f}** |",
            "",
            "Once the units are gone, hutong refuses without asking the database (a SKU seen "
            "short is remembered for half a second, docs/commerce.md); the bare UPDATE asks it "
            "every time. Rounds, all attempts: hutong "
            f"{', '.join(f'{s.rate:,.0f}' for s in mine)}; bare "
            f"{', '.join(f'{s.rate:,.0f}' for s in theirs)}.",
            "",
            f"Over HTTP: {args.http_attempts:,} `POST /v1/orders` from 200 clients for "
            f"{args.http_units:,} units, one `hutong serve`: {http_rate:,.0f} attempts/s; "
            f"{codes[201]:,} created, {codes[409]:,} `insufficient_stock`, nothing else.",
            "",
            f"Peak memory: the benchmark's process (the store and {THREADS} threads) "
            f"{peaks[0]:,.0f} MB; the hutong server {peaks[1]:,.0f} MB.",
            "",
            f"Machine: {machine()}. Command: `{command_line()}`",
        ]
    )
    write_section("flash", body)


if __name__ == "__main__":
    main()
