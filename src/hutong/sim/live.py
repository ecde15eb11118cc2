"""The article's live-commerce scene, played through hutong's HTTP API.

What the article reports (see ../shared/seed/article-zh-hant.txt): from 8 to 12 October 2024
与辉同行's Shaanxi session drew 87.4 million views, sold about 400 products and took over 5.1
million orders; before Double 11, top Douyin streamers (小杨哥, 东北雨姐) were penalised for the
goods they sold, and consumers' trust in streamers fell apart.

Played here, at ``scale`` of the session's size (1/1000 by default, so that a demo takes
seconds): Douyin registers the three streamers, the session's events arrive in batches
(entries and exits, likes, orders, a few refunds; some late, some twice), the session ends
and its sales become trust signals; Tmall reports the streamers' October orders and after-sale
signals; Douyin records the penalties before Double 11 and sets its trust policy; the scores
are computed before and after: 小杨哥's falls below the hold threshold and his commissions are
held, while 与辉同行's record stays good. The figures are data: the ``[live]`` tables of
``double11.toml``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

MINUTE_MS = 60_000
BATCH = 5_000


@dataclass
class LiveScene:
    """What the scene made, for the demo's summary and the console."""

    streamers: dict[str, str] = field(default_factory=dict)  # handle -> id
    session_id: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    before: dict[str, dict[str, Any]] = field(default_factory=dict)  # handle -> score
    after: dict[str, dict[str, Any]] = field(default_factory=dict)
    holds: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def _price(product: int) -> int:
    return 990 + (product * 7_919) % 29_000


def session_events(session: dict[str, Any], scale: float, seed: int = 10) -> list[dict[str, Any]]:
    """The session at ``scale``: every view an entry (most viewers leave within the hour),
    a like for every fourth, orders over the session, one refund in fifty."""
    rnd = random.Random(seed)
    views = max(1, round(int(session["views"]) * scale))
    orders = max(1, round(int(session["orders"]) * scale))
    products = int(session["products"])
    start = int(dt.datetime.fromisoformat(session["starts_at"]).timestamp() * 1000)
    span = int(session["hours"]) * 60 * MINUTE_MS
    viewers = max(1, views * 2 // 5)
    events: list[dict[str, Any]] = []
    for n in range(views):
        at = start + rnd.randrange(span)
        viewer = f"dy{rnd.randrange(viewers)}"
        events.append({"event_id": f"v{n}", "kind": "enter", "ts_ms": at, "viewer": viewer})
        gone = at + int(rnd.expovariate(1 / (12 * MINUTE_MS)))
        if gone < start + span:
            events.append({"event_id": f"x{n}", "kind": "leave", "ts_ms": gone, "viewer": viewer})
        if n % 4 == 0:
            events.append({"event_id": f"l{n}", "kind": "like", "ts_ms": at + 1_000})
    for n in range(orders):
        product = int(products * rnd.random() ** 2)  # the first products sell best
        at = start + rnd.randrange(span)
        order = {
            "product_ref": f"sx{product:03d}",
            "order_ref": f"DY{n}",
            "amount_fen": _price(product),
        }
        events.append({"event_id": f"o{n}", "kind": "order", "ts_ms": at, **order})
        if n % 50 == 0:
            back = at + rnd.randrange(3 * 60 * MINUTE_MS)
            events.append({"event_id": f"r{n}", "kind": "refund", "ts_ms": back, **order})
    events.sort(key=lambda e: e["ts_ms"])
    for i in rnd.sample(range(len(events)), k=len(events) // 200):  # late by a batch or so
        j = min(len(events) - 1, i + rnd.randrange(BATCH, 2 * BATCH))
        events[i], events[j] = events[j], events[i]
    return events


def play(operator: httpx.Client, scene_data: dict[str, Any], scale: float = 0.001) -> LiveScene:
    """Play the scene (the scenario's ``[live]`` tables) through the API; ``operator`` holds
    the operator's key."""
    scene = LiveScene()
    trust = scene_data["trust"]
    with (
        _platform_client(operator, "douyin") as douyin,
        _platform_client(operator, "taobao") as tmall,
    ):
        scene.streamers = _streamers(operator, douyin, scene_data["streamers"])
        session = scene_data["session"]
        scene.session_id = _session(douyin, scene.streamers[session["streamer"]], session, scale)
        scene.report = _ok(douyin.get(f"/v1/live/sessions/{scene.session_id}/report"))
        _october_signals(tmall, scene.streamers, trust)
        _ok(douyin.put("/v1/trust/policy", json=trust["policy"]))
        ids = {v: k for k, v in scene.streamers.items()}
        scene.before = _scores(douyin, trust["before"], ids)
        for handle, penalty in scene_data["penalties"].items():
            _ok(douyin.post(f"/v1/streamers/{scene.streamers[handle]}/penalties", json=penalty))
        _after_sale_signals(tmall, scene.streamers, scene_data["penalties"], trust)
        scene.after = _scores(douyin, trust["after"], ids)
        scene.holds = _ok(operator.get("/v1/settlement/holds"))
        scene.alerts = _ok(douyin.get("/v1/trust/alerts"))
    return scene


def _scores(douyin: httpx.Client, as_of: str, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    scores = _ok(douyin.post("/v1/trust/recompute", json={"as_of": as_of}))
    return {ids[s["streamer_id"]]: s for s in scores if s["streamer_id"] in ids}


def _platform_client(operator: httpx.Client, platform: str) -> httpx.Client:
    tenants = _ok(operator.get("/v1/tenants"))
    tenant = next(t for t in tenants if t["platform_id"] == platform)
    key = _ok(operator.post(f"/v1/tenants/{tenant['id']}/keys", json={"role": "admin"}))["key"]
    return httpx.Client(
        base_url=operator.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _streamers(
    operator: httpx.Client, douyin: httpx.Client, streamers: dict[str, dict[str, str]]
) -> dict[str, str]:
    made = {}
    for handle, who in streamers.items():
        tenant = _ok(operator.post("/v1/tenants", json={"kind": "streamer", "name": who["name"]}))
        body = {
            "handle": handle,
            "name": who["name"],
            "agency": who.get("agency", ""),
            "tenant_id": tenant["id"],
        }
        made[handle] = _ok(douyin.post("/v1/streamers", json=body))["id"]
    return made


def _session(douyin: httpx.Client, streamer_id: str, session: dict[str, Any], scale: float) -> str:
    shelf = [
        {"product_ref": f"sx{i:03d}", "title": f"陕西好物 {i + 1}", "price_fen": _price(i)}
        for i in range(int(session["products"]))
    ]
    starts = dt.datetime.fromisoformat(session["starts_at"])
    made = _ok(
        douyin.post(
            "/v1/live/sessions",
            json={
                "streamer_id": streamer_id,
                "title": session["title"],
                "starts_at": starts.isoformat(),
                "ends_at": (starts + dt.timedelta(hours=int(session["hours"]))).isoformat(),
                "products": shelf,
            },
        )
    )
    events = session_events(session, scale)
    for i in range(0, len(events), BATCH):
        body = {"events": events[i : i + BATCH]}
        _ok(douyin.post(f"/v1/live/sessions/{made['id']}/events", json=body))
    _ok(douyin.post(f"/v1/live/sessions/{made['id']}/end", json={}))
    return str(made["id"])


def _october_signals(tmall: httpx.Client, streamers: dict[str, str], trust: dict[str, Any]) -> None:
    """Each streamer's orders through Tmall links in early October, and ordinary refunds."""
    per_day = int(trust["october_orders_per_day"])
    signals = []
    for handle, streamer_id in streamers.items():
        for day in range(1, 16):
            signals.append(
                {
                    "streamer_id": streamer_id,
                    "kind": "order",
                    "ref": f"oct-{handle}-{day}",
                    "occurred_at": f"2024-10-{day:02d}T21:00:00+08:00",
                    "count": per_day,
                    "amount_fen": per_day * int(trust["october_order_fen"]),
                }
            )
        signals.append(
            {
                "streamer_id": streamer_id,
                "kind": "refund",
                "ref": f"oct-{handle}-refunds",
                "occurred_at": "2024-10-15T21:00:00+08:00",
                "count": int(trust["october_refunds"]),
            }
        )
    _ok(tmall.post("/v1/trust/signals", json={"signals": signals}))


def _after_sale_signals(
    tmall: httpx.Client,
    streamers: dict[str, str],
    penalties: dict[str, Any],
    trust: dict[str, Any],
) -> None:
    """After the scandals: complaints, refunds and quality incidents on the penalised."""
    signals = [
        {
            "streamer_id": streamers[handle],
            "kind": kind,
            "ref": f"after-{handle}-{kind}",
            "occurred_at": "2024-10-26T12:00:00+08:00",
            "count": int(count),
        }
        for handle in penalties
        for kind, count in trust["after_scandal"].items()
    ]
    _ok(tmall.post("/v1/trust/signals", json={"signals": signals}))
