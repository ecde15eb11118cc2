"""Click intake: clicks per second through hutong's jump and click log against appending the
same bytes to a file, in the same run.

The intake is everything the redirect does for a click except the socket: the link lookup in
the in-memory cache, the policy decision, the device and bot verdicts, the dedupe and rate
guard, the signed click token, the CRC-prefixed log line, and the write to the segment log in
batches (one ``write(2)`` per batch, group fsync in the writer's thread), exactly as the
listener does per event-loop turn. The baseline appends the very bytes the intake produced,
batch by batch, to a plain file opened for appending: the floor of a durable click log.

    python bench/intake.py            # 1,000,000 clicks on 100,000 links, 3 rounds
    python bench/intake.py --quick    # 50,000 clicks on 5,000 links, 1 round (CI)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import command_line, machine, peak_rss_mb, write_section
from hutong.lake.segments import SegmentWriter
from hutong.store import Store
from hutong.traffic.cache import LinkCache
from hutong.traffic.jump import Jumper, JumpRequest
from hutong.traffic.tokens import TokenSigner
from redirect import UA, build_links

BATCH = 64  # clicks per write: wrk's 64 connections answered in one event-loop turn
AGENTS = (
    UA,
    "Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36 aweme_300100 JsSdk/2.0 NetType/WIFI Channel/douyin",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)


def requests_for(codes: list[str], clicks: int, seed: int = 11) -> list[JumpRequest]:
    """Random links, three kinds of browser (one a crawler), addresses from a large pool so
    that some devices tap twice (duplicates) and most once."""
    rng = random.Random(seed)
    return [
        JumpRequest(
            "GET",
            rng.choice(codes),
            "",
            rng.choice(AGENTS),
            "",
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        )
        for _ in range(clicks)
    ]


def intake_round(
    cache: LinkCache, work: Path, batches: list[list[JumpRequest]]
) -> tuple[float, list[bytes]]:
    """Clicks per second through a fresh jumper and segment log; the bytes it wrote."""
    log_dir = work / f"log-{time.monotonic_ns()}"
    writer = SegmentWriter(log_dir, "clicks", fsync_ms=200, rotate_seconds=3600)
    jumper = Jumper(
        cache, writer, TokenSigner((("k1", b"k" * 32),)), b"p" * 32, public_url="http://h"
    )
    written: list[bytes] = []
    start = time.perf_counter()
    for batch in batches:
        data = b"".join([jumper.jump(request).record for request in batch])
        writer.append_bytes(data)
        written.append(data)
    elapsed = time.perf_counter() - start
    writer.close()
    shutil.rmtree(log_dir, ignore_errors=True)
    return sum(len(b) for b in batches) / elapsed, written


def append_round(work: Path, written: list[bytes], clicks: int) -> float:
    """Clicks per second appending the same bytes, batch by batch, to a plain file."""
    path = work / f"plain-{time.monotonic_ns()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    start = time.perf_counter()
    for data in written:
        os.write(fd, data)
    elapsed = time.perf_counter() - start
    os.close(fd)
    path.unlink()
    return clicks / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 clicks, 1 round")
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    args = parser.parse_args()
    if args.quick:
        args.clicks, args.links, args.rounds = 50_000, 5_000, 1
    work = Path(tempfile.mkdtemp(prefix="hutong-bench-intake-"))
    try:
        url = f"sqlite:///{work / 'links.sqlite3'}"
        codes = build_links(url, args.links)
        cache = LinkCache(Store.from_url(url))
        cache.load()
        requests = requests_for(codes, args.clicks)
        batches = [requests[i : i + BATCH] for i in range(0, len(requests), BATCH)]
        ours, theirs, size = [], [], 0
        for _ in range(args.rounds):
            rate, written = intake_round(cache, work, batches)
            ours.append(rate)
            theirs.append(append_round(work, written, args.clicks))
            size = sum(len(b) for b in written)
            print(f"  intake {rate:,.0f}/s, plain append {theirs[-1]:,.0f}/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mine, floor = statistics.median(ours), statistics.median(theirs)
    peak_mb = peak_rss_mb()
    print(f"click intake {mine:,.0f}/s vs append {floor:,.0f}/s: {mine / floor:.3f}")
    if args.no_write:
        return
    body = "\n".join(
        [
            "## Click intake vs appending to a file (`bench/intake.py`)",
            "",
            f"Clicks per second, median of {args.rounds}, one thread, {args.clicks:,} clicks on "
            f"{args.links:,} links in batches of {BATCH} (three browsers, one of them a crawler; "
            f"{size / args.clicks:.0f} bytes of log per click):",
            "",
            "| | clicks per second |",
            "|---|---|",
            "| appending the same bytes to a plain file, one `write(2)` per batch "
            f"| {floor:,.0f} |",
            "| hutong intake: link, policy, device and bot verdicts, dedupe and rate guard, "
            f"signed token, CRC line, segment log with group fsync | {mine:,.0f} |",
            f"| **ratio intake / append** | **{mine / floor:.3f}** |",
            "",
            f"Rounds: intake {', '.join(f'{r:,.0f}' for r in ours)}; append "
            f"{', '.join(f'{r:,.0f}' for r in theirs)}. Peak memory of the process "
            f"(links, requests and the log held for the baseline): {peak_mb:,.0f} MB.",
            "",
            f"Machine: {machine()}. Command: `{command_line()}`",
        ]
    )
    write_section("intake", body)


if __name__ == "__main__":
    main()
