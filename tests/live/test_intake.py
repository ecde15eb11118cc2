"""Live events through the HTTP API, on SQLite and PostgreSQL: batches in any order with
retries, the counters and their server-sent events, the report, and counters rebuilt from
the log and the lake after a restart."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

from hutong.lake.compact import compact
from hutong.lake.schema import LIVE_EVENTS
from hutong.live.models import LiveSession
from hutong.runtime import build_runtime
from tests.api.market import Market, build_market, ok
from tests.conftest import LiveServer

START_MS = 1_730_808_000_000  # 2024-11-05 20:00 Beijing
MIN = 60_000


def make_session(m: Market) -> tuple[str, str]:
    douyin = m.client("douyin")
    streamer = ok(douyin.post("/v1/streamers", json={"handle": "dongyuhui", "name": "Dong"}), 201)
    session = ok(
        douyin.post(
            "/v1/live/sessions",
            json={
                "streamer_id": streamer["id"],
                "title": "Double 11 night",
                "starts_at": "2024-11-05T20:00:00+08:00",
                "products": [
                    {"product_ref": "a1", "title": "rice cooker", "price_fen": 29_900},
                    {"product_ref": "a2", "title": "tea set", "price_fen": 9_900},
                ],
            },
        ),
        201,
    )
    return streamer["id"], session["id"]


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in range(30):  # 30 viewers enter in the first three minutes, 10 leave in minute 4
        out.append(
            {
                "event_id": f"in{v}",
                "kind": "enter",
                "ts_ms": START_MS + v * 6_000,
                "viewer": f"u{v}",
            }
        )
    for v in range(10):
        out.append(
            {
                "event_id": f"out{v}",
                "kind": "leave",
                "ts_ms": START_MS + 4 * MIN + v,
                "viewer": f"u{v}",
            }
        )
    for i in range(12):
        out.append(
            {
                "event_id": f"o{i}",
                "kind": "order",
                "ts_ms": START_MS + 2 * MIN + i,
                "product_ref": "a1" if i < 8 else "a2",
                "order_ref": f"T{i}",
                "amount_fen": 29_900 if i < 8 else 9_900,
            }
        )
    out.append(
        {
            "event_id": "o0-again",
            "kind": "order",
            "ts_ms": START_MS + 3 * MIN,
            "product_ref": "a1",
            "order_ref": "T0",
            "amount_fen": 29_900,
        }
    )
    out.append(
        {
            "event_id": "r1",
            "kind": "refund",
            "ts_ms": START_MS + 5 * MIN,
            "product_ref": "a2",
            "order_ref": "T9",
            "amount_fen": 9_900,
        }
    )
    out += [{"event_id": f"l{i}", "kind": "like", "ts_ms": START_MS + i * 1_000} for i in range(25)]
    return out


def check(counters: dict[str, Any]) -> None:
    assert (counters["views"], counters["current_viewers"], counters["peak_viewers"]) == (
        30,
        20,
        30,
    )
    assert (counters["orders"], counters["gmv_fen"]) == (12, 8 * 29_900 + 4 * 9_900)
    assert (counters["refunds"], counters["refund_fen"], counters["likes"]) == (1, 9_900, 25)
    assert counters["products"]["a1"]["orders"] == 8
    assert [r["concurrent"] for r in counters["per_minute"]] == [10, 20, 30, 30, 20, 20]


def read_sse(client: httpx.Client, url: str, limit: int) -> list[dict[str, Any]]:
    got = []
    with client.stream("GET", url, params={"limit": limit, "interval_ms": 100}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
    return got


def test_events_counters_stream_and_report(server: LiveServer) -> None:
    m = build_market(server)
    try:
        douyin = m.client("douyin")
        _, sid = make_session(m)
        base = f"/v1/live/sessions/{sid}"
        first = read_sse(douyin, f"{base}/stream", 1)
        assert first[0]["views"] == 0 and first[0]["applied"] == 0

        batch = events()
        random.Random(11).shuffle(batch)
        halves = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
        answer = ok(douyin.post(f"{base}/events", json={"events": halves[1]}), 202)
        assert answer["duplicates"] == 0
        ok(douyin.post(f"{base}/events", json={"events": halves[0]}), 202)
        retried = ok(douyin.post(f"{base}/events", json={"events": halves[1]}), 202)
        assert (retried["applied"], retried["duplicates"]) == (0, len(halves[1]))
        counters = ok(douyin.get(f"{base}/counters"))
        check(counters)
        assert counters["applied"] == len(batch)
        assert ok(douyin.get(base))["state"] == "live"

        pushed = read_sse(m.client("tmall"), f"{base}/stream", 1)  # a buyer of traffic reads
        assert pushed[0]["gmv_fen"] == counters["gmv_fen"]

        report = ok(douyin.get(f"{base}/report"))
        assert (report["orders"], report["net_gmv_fen"]) == (12, counters["gmv_fen"] - 9_900)
        assert report["average_order_fen"] == counters["gmv_fen"] // 12
        assert [p["product_ref"] for p in report["top_products"]] == ["a1", "a2"]
        assert report["top_products"][0]["title"] == "rice cooker"
        ended = ok(douyin.post(f"{base}/end", json={}))
        assert ended["state"] == "ended" and ended["ends_at"]

        # bad input: a 422 that names the event, and nothing counted
        bad = douyin.post(
            f"{base}/events",
            json={"events": [{"event_id": "x", "kind": "enter", "ts_ms": START_MS}]},
        )
        assert bad.status_code == 422 and "viewer" in bad.text
        far = douyin.post(
            f"{base}/events",
            json={"events": [{"event_id": "y", "kind": "like", "ts_ms": START_MS + 10**11}]},
        )
        assert far.status_code == 422 and "events[0]" in far.json()["detail"]
        assert ok(douyin.get(f"{base}/counters"))["applied"] == len(batch)
        # only the session's platform reports its events; another platform cannot see it
        post = {"events": batch[:1]}
        assert m.client("tmall").post(f"{base}/events", json=post).status_code == 403
        assert m.client("kuaishou").get(f"{base}/counters").status_code == 404

        # a restart: the counters come back from the log, then from the lake once compacted
        world = server.world
        for step in ("log", "lake"):
            world.runtime.live_log.rotate()
            if step == "lake":
                world.runtime.live_log._sync_once()  # seal the segments
                done = compact(world.settings.clicklog_dir, world.settings.lake_dir, LIVE_EVENTS)
                assert done.rows >= len(batch)
            again = build_runtime(world.settings, world.store)
            try:
                with world.store.transaction() as session:
                    live = session.get(LiveSession, sid)
                    assert live is not None
                    rebuilt = again.live.counters_for(session, live).snapshot()
                check(rebuilt)
                assert rebuilt["applied"] == len(batch)
            finally:
                again.close()
    finally:
        m.close()
