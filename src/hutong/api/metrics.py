"""Prometheus metrics at ``/metrics``, in its text format (no client library: a few counters).

Per process, from memory: requests by method, route template and status class, and their
latency as a histogram. Read from the store and the disk at each scrape (so every process
reports the same backlog): the outbox's pending and dead messages per kind and the age of
the oldest pending one (postbacks, ad-platform conversions: the notification lag and the
worker's backlog), and the event logs' segments waiting for compaction and the age of the
oldest (the click-log lag). The alerts an operator needs on them: docs/operations.md.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from hutong.lake.schema import CLICKS, IMPRESSIONS, LIVE_EVENTS
from hutong.store import Store, utcnow
from hutong.worker.models import OutboxMessage, OutboxStatus

# requests served by this process: (method, route template, status class) -> count
REQUESTS: Counter[tuple[str, str, str]] = Counter()
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Cumulative-bucket latency histogram per (method, route)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = {}

    def observe(self, method: str, route: str, seconds: float) -> None:
        counts = self.counts.get((method, route))
        if counts is None:
            counts = self.counts[(method, route)] = [0] * (len(BUCKETS) + 1)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[(method, route)] = self.sums.get((method, route), 0.0) + seconds

    def lines(self, name: str) -> list[str]:
        out = [f"# HELP {name} Request latency in seconds", f"# TYPE {name} histogram"]
        for (method, route), counts in sorted(self.counts.items()):
            labels = f'method="{method}",route="{_escape(route)}"'
            running = 0
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                running += count
                out.append(f'{name}_bucket{{{labels},le="{bound}"}} {running}')
            out.append(f"{name}_sum{{{labels}}} {self.sums[(method, route)]:.6f}")
            out.append(f"{name}_count{{{labels}}} {running}")
        return out


LATENCY = Histogram()


def record(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS[(method, route, f"{status // 100}xx")] += 1
    LATENCY.observe(method, route, seconds)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def request_lines() -> list[str]:
    lines = [
        "# HELP hutong_http_requests_total HTTP requests served by this process",
        "# TYPE hutong_http_requests_total counter",
    ]
    for (method, route, status), count in sorted(REQUESTS.items()):
        lines.append(
            f'hutong_http_requests_total{{method="{method}",route="{_escape(route)}",'
            f'status="{status}"}} {count}'
        )
    return lines + LATENCY.lines("hutong_http_request_duration_seconds")


def outbox_lines(store: Store, now: dt.datetime | None = None) -> list[str]:
    """Pending and dead messages per kind and the oldest pending one's age."""
    now = now or utcnow()
    with store.reading() as session:
        rows = session.execute(
            select(
                OutboxMessage.kind,
                OutboxMessage.status,
                func.count(),
                func.min(OutboxMessage.created_at),
            )
            .where(OutboxMessage.status != OutboxStatus.DELIVERED.value)
            .group_by(OutboxMessage.kind, OutboxMessage.status)
        ).all()
    lines = [
        "# HELP hutong_outbox_messages Outbox messages not delivered, per kind and status",
        "# TYPE hutong_outbox_messages gauge",
    ]
    ages = [
        "# HELP hutong_outbox_oldest_pending_seconds Age of the oldest pending message",
        "# TYPE hutong_outbox_oldest_pending_seconds gauge",
    ]
    for kind, status, count, oldest in sorted(rows, key=lambda r: (r[0], r[1])):
        lines.append(f'hutong_outbox_messages{{kind="{_escape(kind)}",status="{status}"}} {count}')
        if status == OutboxStatus.PENDING.value and oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            age = max(0.0, (now - oldest).total_seconds())
            ages.append(f'hutong_outbox_oldest_pending_seconds{{kind="{_escape(kind)}"}} {age:.1f}')
    return lines + ages


def segment_lines(log_dir: Path, now: float | None = None) -> list[str]:
    """Event-log segments not yet compacted into the lake, and the oldest one's age (a
    segment's name starts with its opening time in ms); the live segment counts too."""
    now = time.time() if now is None else now
    counts = [
        "# HELP hutong_eventlog_segments Event-log segments not yet compacted, per kind",
        "# TYPE hutong_eventlog_segments gauge",
    ]
    ages = [
        "# HELP hutong_eventlog_oldest_segment_seconds Age of the oldest such segment",
        "# TYPE hutong_eventlog_oldest_segment_seconds gauge",
    ]
    for kind in (CLICKS.kind, IMPRESSIONS.kind, LIVE_EVENTS.kind):
        opened = []
        for path in log_dir.glob(f"{kind}-*.log") if log_dir.exists() else []:
            stamp = path.name[len(kind) + 1 : len(kind) + 14]
            if stamp.isdigit():
                opened.append(int(stamp) / 1000)
        counts.append(f'hutong_eventlog_segments{{kind="{kind}"}} {len(opened)}')
        age = max(0.0, now - min(opened)) if opened else 0.0
        ages.append(f'hutong_eventlog_oldest_segment_seconds{{kind="{kind}"}} {age:.1f}')
    return counts + ages


def metrics_text(store: Store, log_dir: Path) -> str:
    return "\n".join(request_lines() + outbox_lines(store) + segment_lines(log_dir)) + "\n"
