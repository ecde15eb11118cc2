"""Redirect throughput: hutong's /j/{code} against nginx returning a fixed 302, same run.

Both servers get one core (taskset -c 0) and wrk the other (taskset -c 1, one thread, 64
keep-alive connections). hutong serves 1,000,000 links from its in-memory cache with the
policy check and click logging (write(2) per click, group fsync) included; nginx runs one
worker process. The load is identical: random codes from the link set, a mobile User-Agent
and a random X-Forwarded-For per request. Figures and this command line go to
docs/benchmarks.md.

    python bench/redirect.py                 # 1,000,000 links, 3 rounds of 15 s
    python bench/redirect.py --quick         # 10,000 links, 1 round of 3 s (CI)
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from common import (
    child_pids,
    command_line,
    free_port,
    machine,
    peak_rss_mb,
    tool_version,
    wait_http,
    write_section,
)
from hutong import native
from hutong.migrate import upgrade
from hutong.store import Store, utcnow
from hutong.tenants.models import Role, Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.models import DEFAULT_CHAIN, Link
from hutong.traffic.schemas import CampaignIn, PlacementIn
from hutong.traffic.service import (
    create_campaign,
    create_placement,
    seed_platforms,
    seed_policies,
)

UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 302 https://detail.tmall.com/item.htm?id=1; }}
    }}
}}
"""
WRK_SCRIPT = """
local codes = {{}}
for line in io.lines("{codes}") do codes[#codes + 1] = line end
math.randomseed(20241111)
request = function()
  local code = codes[math.random(#codes)]
  local ip = math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. ".7"
  return wrk.format("GET", "/j/" .. code, {{["User-Agent"] = "{ua}", ["X-Forwarded-For"] = ip}})
end
"""


@dataclass
class Result:
    rps: float
    p99_ms: float


def build_links(url: str, count: int) -> list[str]:
    """Seed the article's world and bulk-insert ``count`` links of one Douyin→Tmall campaign."""
    upgrade(url)
    store = Store.from_url(url)
    with store.transaction() as session:
        seed_platforms(session)
        seed_policies(session, None)
        douyin = session.scalar(select(Tenant).where(Tenant.platform_id == "douyin"))
        tmall = session.scalar(select(Tenant).where(Tenant.platform_id == "taobao"))
        assert douyin is not None and tmall is not None
        seller = Principal(douyin.id, TenantKind.CONTENT_PLATFORM, Role.ADMIN, "douyin")
        buyer = Principal(tmall.id, TenantKind.SHELF_PLATFORM, Role.ADMIN, "taobao")
        placement = create_placement(
            session,
            seller,
            PlacementIn.model_validate(
                {"surface": "feed", "name": "feed", "pricing_model": "cpc", "price_fen": 50}
            ),
        )
        campaign = create_campaign(
            session,
            buyer,
            CampaignIn.model_validate(
                {
                    "name": "bench",
                    "target_platform_id": "taobao",
                    "placement_ids": [placement.id],
                    "billing_model": "cpc",
                    "cpc_fen": 50,
                    "budget_fen": 10**12,
                    "starts_at": "2024-01-01T00:00:00+08:00",
                    "ends_at": "2099-01-01T00:00:00+08:00",
                }
            ),
        )
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(secrets.token_urlsafe(6))
    ordered = list(codes)
    now = utcnow()
    chunk = 50_000
    for start in range(0, count, chunk):
        rows = [
            {
                "id": "lnk_" + secrets.token_hex(10),
                "code": code,
                "campaign_id": campaign.id,
                "placement_id": placement.id,
                "source_platform_id": "douyin",
                "target_platform_id": "taobao",
                "surface": "feed",
                "target_kind": "product",
                "web_url": f"https://detail.tmall.com/item.htm?id={start + i}",
                "app_url": "",
                "fixed_params": {"utm_source": "douyin"},
                "fallback_chain": list(DEFAULT_CHAIN),
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i, code in enumerate(ordered[start : start + chunk])
        ]
        with store.transaction() as session:
            session.execute(insert(Link), rows)
        print(f"  inserted {min(start + chunk, count):,} links", flush=True)
    store.engine.dispose()
    return ordered


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    match = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    assert match is not None, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{errors.group(1)} error responses during the run:\n{output}")
    return Result(rps, float(match.group(1)) * scale)


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> Result:
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="10,000 links, 1 round of 3 s")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    if args.quick:
        args.links, args.seconds, args.rounds = 10_000, 3, 1
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(
                f"{tool} is missing: run 'bash bench/setup.sh' (apt-get install nginx-light wrk)"
            )
    work = Path(tempfile.mkdtemp(prefix="hutong-bench-"))
    try:
        _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    data = work / "data"
    url = f"sqlite:///{data / 'hutong.sqlite3'}"
    data.mkdir()
    print(f"building {args.links:,} links ...", flush=True)
    started = time.monotonic()
    codes = build_links(url, args.links)
    build_s = time.monotonic() - started
    sample = work / "codes.txt"
    sample.write_text("\n".join(codes[: min(len(codes), 100_000)]) + "\n")
    script = work / "load.lua"
    script.write_text(WRK_SCRIPT.format(codes=sample, ua=UA))

    nginx_port, hutong_port = free_port(), free_port()
    (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, port=nginx_port))
    env = {
        **os.environ,
        "HUTONG_DATA_DIR": str(data),
        "HUTONG_DATABASE_URL": url,
        "HUTONG_LOG_LEVEL": "WARNING",
        "HUTONG_EMBEDDED_WORKER": "0",
        "HUTONG_PUBLIC_URL": f"http://127.0.0.1:{hutong_port}",
    }
    hutong_cmd = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "hutong.cli",
        "serve",
        "--port",
        str(hutong_port),
        "--no-worker",
    ]
    nginx = subprocess.Popen(
        ["taskset", "-c", "0", "nginx", "-c", str(work / "nginx.conf"), "-p", str(work)],
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    hutong = subprocess.Popen(hutong_cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{nginx_port}/", nginx, 30)
        wait_http(f"http://127.0.0.1:{hutong_port}/healthz", hutong, 600)
        load_s = time.monotonic() - started
        probe = httpx.get(
            f"http://127.0.0.1:{hutong_port}/j/{codes[0]}", headers={"User-Agent": UA}
        )
        assert probe.status_code == 302 and "ht_ct=" in probe.headers["location"], probe.text
        ours, theirs = [], []
        for round_no in range(args.rounds):
            theirs.append(run_wrk(nginx_port, script, args.seconds, args.connections))
            ours.append(run_wrk(hutong_port, script, args.seconds, args.connections))
            print(
                f"  round {round_no + 1}: nginx {theirs[-1].rps:,.0f} req/s, "
                f"hutong {ours[-1].rps:,.0f} req/s",
                flush=True,
            )
        logged = sum(f.stat().st_size for f in (data / "clicklog").glob("*.log"))
        rss = peak_rss_mb(hutong.pid), max(peak_rss_mb(p) for p in child_pids(nginx.pid))
    finally:
        stop(hutong)
        stop(nginx)
    report(args, ours, theirs, build_s, load_s, rss, logged)


def report(
    args: argparse.Namespace,
    ours: list[Result],
    theirs: list[Result],
    build_s: float,
    load_s: float,
    rss: tuple[float, float],
    logged: int,
) -> None:
    our_rps = statistics.median(r.rps for r in ours)
    their_rps = statistics.median(r.rps for r in theirs)
    our_p99 = statistics.median(r.p99_ms for r in ours)
    their_p99 = statistics.median(r.p99_ms for r in theirs)
    ratio = our_rps / their_rps
    ours_label = f"hutong `/j/{{code}}`, 1 process, {args.links:,} links, policy check + click log"
    nginx_rounds = ", ".join(f"{r.rps:,.0f}" for r in theirs)
    our_rounds = ", ".join(f"{r.rps:,.0f}" for r in ours)
    body = "\n".join(
        [
            "## Redirect: `/j/{code}` vs nginx",
            "",
            f"| | requests/s (median of {args.rounds}) | p99 latency |",
            "|---|---|---|",
            f"| nginx, `return 302`, 1 worker | {their_rps:,.0f} | {their_p99:.2f} ms |",
            f"| {ours_label} | {our_rps:,.0f} | {our_p99:.2f} ms |",
            f"| **ratio hutong / nginx** | **{ratio:.2f}** | |",
            "",
            f"Goal: at least 0.50 of nginx's throughput. Rounds: nginx {nginx_rounds};",
            f"hutong {our_rounds}. wrk -t1 -c{args.connections} -d{args.seconds}s, random codes",
            f"among {min(args.links, 100_000):,} of the links, a mobile Safari User-Agent and a",
            "random X-Forwarded-For per request; servers on core 0, wrk on core 1 (taskset).",
            f"Setup: {args.links:,} links inserted in {build_s:.1f} s; the server loaded them and",
            f"answered in {load_s:.1f} s; {logged / 1e6:,.1f} MB of click log written.",
            f"Peak memory: hutong {rss[0]:,.0f} MB (the links cached, the guard's maps),",
            f"nginx's worker {rss[1]:,.0f} MB.",
            "",
            f"Build: {native.status().describe()} (docs/performance.md).",
            "",
            f"Machine: {machine()}; {tool_version(['nginx', '-v'])}; "
            f"{tool_version(['wrk', '--version'])}.",
            f"Command: `{command_line()}`",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("redirect" + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
