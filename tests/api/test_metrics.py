"""/metrics: request counts and latencies, the outbox's backlog and lag, the event logs
waiting for compaction, in Prometheus' text format (each family typed, its samples together)."""

from __future__ import annotations

import datetime as dt
import re

from hutong.ids import new_id
from hutong.store import utcnow
from hutong.worker.models import OutboxMessage
from tests.conftest import LiveServer

# a label value may hold braces (route templates): quoted values are matched whole
SAMPLE = re.compile(r'^([a-z_]+)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+]+|\+Inf)$')


def parse(text: str) -> dict[str, float]:
    """Samples by name and labels; fails on a sample of an untyped family or a family whose
    samples are split (what Prometheus refuses to ingest)."""
    typed: list[str] = []
    samples: dict[str, float] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.append(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        found = SAMPLE.match(line)
        assert found, line
        name = found.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} has no # TYPE"
        if family != current:
            assert typed.index(family) == len(typed) - 1, f"{family}'s samples are split"
            current = family
        samples[name + (found.group(2) or "")] = float(found.group(3))
    return samples


def test_metrics_report_requests_latency_backlog_and_log_lag(server: LiveServer) -> None:
    with server.world.store.transaction() as session:
        session.add(
            OutboxMessage(
                id=new_id("obx"),
                kind="postback",
                owner_id="tnt_x",
                url="http://receiver.test/hook",
                body="{}",
                idempotency_key=new_id("idem"),
                created_at=utcnow() - dt.timedelta(minutes=3),
            )
        )
    with server.client(server.world.operator_key) as client:
        for _ in range(3):
            assert client.get("/v1/me").status_code == 200
        assert client.get("/v1/orders/ord_nowhere").status_code == 404
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse(answer.text)
    me = 'method="GET",route="/v1/me"'
    assert m[f'hutong_http_requests_total{{{me},status="2xx"}}'] >= 3
    assert m[f'hutong_http_request_duration_seconds_bucket{{{me},le="+Inf"}}'] >= 3
    assert m[f"hutong_http_request_duration_seconds_count{{{me}}}"] >= 3
    assert m[f"hutong_http_request_duration_seconds_sum{{{me}}}"] > 0
    order = 'method="GET",route="/v1/orders/{order_id}",status="4xx"'
    assert m[f"hutong_http_requests_total{{{order}}}"] >= 1  # counters live as long as the process
    assert m['hutong_outbox_messages{kind="postback",status="pending"}'] == 1
    assert m['hutong_outbox_oldest_pending_seconds{kind="postback"}'] >= 170
    # the server's click log has its live segment open: one segment, seconds old
    assert m['hutong_eventlog_segments{kind="clicks"}'] >= 1
    assert m['hutong_eventlog_oldest_segment_seconds{kind="clicks"}'] < 3600
