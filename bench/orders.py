"""Order walks per second over HTTP on PostgreSQL, beside pgbench tpcb-like on the same server
in the same run.

A walk is what a shelf platform does for one sale through hutong: create the order (stock
reserved), start its payment (hutong calls the sandbox provider), deliver the provider's signed
notification (the order becomes paid, stock sold), ship it (hutong calls ZTO for a waybill).
That is four requests and at least five transactions; pgbench's tpcb-like transaction is one
with five statements. Both run against the local PostgreSQL server; hutong is one ``hutong
serve`` process (no embedded worker), the emulators run as their own processes
(``hutong sandbox sandbox`` and ``hutong sandbox zto``). Figures and this command line go to
docs/benchmarks.md.

    python bench/orders.py                 # 3 rounds of 15 s each, 32 concurrent walkers
    python bench/orders.py --quick         # 1 round of 3 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from common import (
    command_line,
    free_port,
    machine,
    peak_rss_mb,
    tool_version,
    wait_http,
    write_section,
)
from hutong.payments.providers.sandbox import HEADER, sign

SKUS = 1_000
PG = os.environ.get("HUTONG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
HUTONG = [sys.executable, "-m", "hutong.cli"]
ADDRESS = {
    "name": "王五",
    "phone": "13700000000",
    "province": "浙江省",
    "city": "杭州市",
    "address": "文一西路",
}


@dataclass
class Walks:
    count: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float = 0.0  # CPU seconds the hutong server spent during the round
    xacts: int = 0  # transactions PostgreSQL counted in hutong's database during the round

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def database_url(name: str) -> str:
    return PG.rsplit("/", 1)[0] + "/" + name


def create_database(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [*HUTONG, *args], env=env, capture_output=True, text=True, check=True
    ).stdout


def seeded(work: Path, db: str, port: int) -> tuple[dict[str, str], str]:
    """The environment of a ``hutong serve`` on ``port`` over database ``db`` (no embedded
    worker), migrated and seeded, and Taobao's API key."""
    env = {
        **os.environ,
        "HUTONG_DATA_DIR": str(work / "data"),
        "HUTONG_DATABASE_URL": database_url(db),
        "HUTONG_LOG_LEVEL": "WARNING",
        "HUTONG_EMBEDDED_WORKER": "0",
        "HUTONG_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    cli(env, "db", "upgrade")
    cli(env, "seed")
    return env, str(json.loads(cli(env, "tenants", "key", "--platform", "taobao"))["key"])


async def walk(client: httpx.AsyncClient, skus: list[str], secret: str, merchant: str) -> None:
    sku = random.choice(skus)  # a busy day sells many products, not one (the flash sale is its own)
    created = await client.post(
        "/v1/orders",
        json={
            "lines": [{"sku_id": sku, "quantity": 1}],
            "buyer_ref": secrets.token_hex(6),
            "ship_to": ADDRESS,
        },
    )
    order = created.json()
    paid = await client.post(f"/v1/orders/{order['id']}/payments", json={"provider": "sandbox"})
    payment = paid.json()
    event = json.dumps(
        {
            "id": "evt_" + secrets.token_hex(8),
            "type": "payment.succeeded",
            "merchant_id": merchant,
            "out_trade_no": payment["out_trade_no"],
            "amount_fen": payment["amount_fen"],
            "currency": "CNY",
            "txn_id": payment["provider_txn_id"],
            "created": int(time.time()),
        }
    ).encode()
    notified = await client.post(
        "/notify/sandbox",
        content=event,
        headers={HEADER: sign(secret, event, int(time.time())), "Content-Type": "application/json"},
    )
    if notified.status_code != 200:
        raise RuntimeError(f"notification refused: {notified.text}")
    shipped = await client.post(f"/v1/orders/{order['id']}/shipments", json={"carrier": "zto"})
    if shipped.status_code != 201:
        raise RuntimeError(f"ship failed: {shipped.status_code} {shipped.text[:200]}")


async def run_walks(
    url: str,
    key: str,
    skus: list[str],
    secret: str,
    merchant: str,
    seconds: float,
    concurrency: int,
) -> Walks:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as client:

        async def walker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    await walk(client, skus, secret, merchant)
                    latencies.append(time.monotonic() - started)
                except (RuntimeError, httpx.HTTPError, KeyError, ValueError):
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(walker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return Walks(len(latencies), elapsed, latencies, errors)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), to say where a walk's time goes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def transactions(db: str) -> int:
    """Commits and rollbacks PostgreSQL counted for a database (its own statistics view)."""
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (db,)
        ).fetchone()
    return int(row[0]) if row else 0


def measured_round(
    server: subprocess.Popen[bytes], db: str, args: argparse.Namespace, *walk_args: object
) -> Walks:
    cpu, xacts = cpu_seconds(server.pid), transactions(db)
    walks = asyncio.run(run_walks(*walk_args, args.seconds, args.concurrency))  # type: ignore[arg-type, call-arg]
    walks.server_cpu = cpu_seconds(server.pid) - cpu
    time.sleep(0.6)  # PostgreSQL publishes its statistics at most twice a second
    walks.xacts = transactions(db) - xacts
    return walks


def run_pgbench(db: str, seconds: int, clients: int) -> float:
    done = subprocess.run(
        [
            "pgbench",
            "-b",
            "tpcb-like",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            database_url(db),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    assert match is not None, done.stdout
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pgbench-clients", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 3, 1
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is missing (Debian: postgresql-client)")
    tag = secrets.token_hex(3)
    hutong_db, bench_db = f"hutong_bench_{tag}", f"pgbench_{tag}"
    work = Path(tempfile.mkdtemp(prefix="hutong-orders-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        create_database(hutong_db)
        create_database(bench_db)
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "10", database_url(bench_db)],
            check=True,
            capture_output=True,
        )
        _run(args, work, hutong_db, bench_db, procs)
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(hutong_db)
        drop_database(bench_db)
        shutil.rmtree(work, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    work: Path,
    hutong_db: str,
    bench_db: str,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    port, sandbox_port, zto_port = free_port(), free_port(), free_port()
    env, key = seeded(work, hutong_db, port)
    for name, p in (("sandbox", sandbox_port), ("zto", zto_port)):
        proc = subprocess.Popen(
            [*HUTONG, "sandbox", name, "--port", str(p), "--dir", str(work / name)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        wait_http(f"http://127.0.0.1:{p}/_emulator/state", proc)
    server = subprocess.Popen(
        [*HUTONG, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(server)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", server)
    headers = {"Authorization": f"Bearer {key}"}
    sandbox_account = json.loads((work / "sandbox" / "account.json").read_text())
    zto_account = json.loads((work / "zto" / "account.json").read_text())
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        client.post("/v1/provider-accounts", json=sandbox_account).raise_for_status()
        client.post("/v1/carrier-accounts", json=zto_account).raise_for_status()
        skus: list[str] = []
        for n in range(SKUS // 100):
            items = [
                {"code": f"B-{n}-{i}", "title": "bench", "price_fen": 9_900, "stock": 1_000_000}
                for i in range(100)
            ]
            product = client.post("/v1/products", json={"title": f"bench {n}", "skus": items})
            skus += [s["id"] for s in product.json()["skus"]]
    secret, merchant = (
        sandbox_account["settings"]["secret"],
        sandbox_account["settings"]["merchant_id"],
    )
    asyncio.run(run_walks(url, key, skus, secret, merchant, 2, 4))  # warm up
    ours, theirs = [], []
    for round_no in range(args.rounds):
        ours.append(measured_round(server, hutong_db, args, url, key, skus, secret, merchant))
        theirs.append(run_pgbench(bench_db, args.seconds, args.pgbench_clients))
        print(
            f"  round {round_no + 1}: hutong {ours[-1].per_second:,.1f} walks/s "
            f"({ours[-1].errors} errors), pgbench {theirs[-1]:,.0f} tps",
            flush=True,
        )
    report(args, ours, theirs, peak_rss_mb(server.pid))


def report(args: argparse.Namespace, ours: list[Walks], theirs: list[float], peak: float) -> None:
    walks = statistics.median(w.per_second for w in ours)
    tps = statistics.median(theirs)
    latencies = sorted(x for w in ours for x in w.latencies)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    errors = sum(w.errors for w in ours)
    ratio = walks / tps
    done = sum(w.count for w in ours) or 1
    cpu_ms = sum(w.server_cpu for w in ours) / done * 1000
    xacts = sum(w.xacts for w in ours) / done
    body = "\n".join(
        [
            "## Order walks vs pgbench (PostgreSQL)",
            "",
            f"| | per second (median of {args.rounds}) | latency |",
            "|---|---|---|",
            f"| pgbench tpcb-like, {args.pgbench_clients} clients | {tps:,.0f} transactions | |",
            f"| hutong walk (create + pay + notification + ship), {args.concurrency} concurrent | "
            f"{walks:,.1f} walks | p50 {p50:.0f} ms, p99 {p99:.0f} ms |",
            f"| **ratio walks / pgbench transactions** | **{ratio:.3f}** | |",
            "",
            "Goal: at least 0.25. Rounds: hutong "
            + ", ".join(f"{w.per_second:,.1f}" for w in ours)
            + "; pgbench "
            + ", ".join(f"{t:,.0f}" for t in theirs)
            + f"; {errors} failed walks.",
            "One `hutong serve` process (no embedded worker) against the local PostgreSQL; the",
            "sandbox provider and ZTO emulators as their own processes; the client signs the",
            f"provider's notification itself; each walk buys one of {SKUS:,} SKUs at random.",
            f"{args.seconds} s per round; pgbench -s 10 in its own database.",
            "",
            f"Where a walk's time goes: the hutong server spent **{cpu_ms:.0f} ms of CPU per walk**"
            f" and PostgreSQL counted {xacts:.1f} transactions per walk (its own statistics).",
            f"One server process (one core under the GIL) therefore allows at most "
            f"{1000 / cpu_ms if cpu_ms else 0:,.0f} walks/s here; the goal would need about",
            f"{0.25 * tps * cpu_ms / 1000:,.0f} such cores (docs/performance.md, the order walk).",
            f"Peak memory of the hutong server: {peak:,.0f} MB.",
            "",
            f"Machine: {machine()}; {tool_version(['pgbench', '--version'])}.",
            f"Command: `{command_line()}`",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("orders" + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
