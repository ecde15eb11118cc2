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
held, while 与辉同行's record stays good.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

SESSION_START_MS = 1_728_561_600_000  # 2024-10-10 20:00 Beijing
MINUTE_MS = 60_000
VIEWS, ORDERS, PRODUCTS = 87_400_000, 5_100_000, 400
BATCH = 5_000

STREAMERS = {
    "yuhuitongxing": ("与辉同行", "与辉同行（北京）科技"),
    "xiaoyangge": ("疯狂小杨哥", "三只羊网络"),
    "dongbeiyujie": ("东北雨姐", "东北雨姐"),
}
PENALTIES = {
    "xiaoyangge": {
        "points": 12,
        "code": "false_advertising",
        "reason": "mooncakes sold as a Hong Kong brand were made in Guangzhou (香港美诚月饼)",
        "occurred_at": "2024-10-20T12:00:00+08:00",
    },
    "dongbeiyujie": {
        "points": 12,
        "code": "product_quality",
        "reason": "sweet-potato noodles sold in the live room contained no sweet potato",
        "occurred_at": "2024-10-23T12:00:00+08:00",
    },
}


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


def session_events(scale: float, seed: int = 10) -> list[dict[str, Any]]:
    """The session at ``scale``: every view an entry (most viewers leave within the hour),
    a like for every fourth, orders over the four hours, one refund in fifty."""
    rnd = random.Random(seed)
    views, orders = max(1, round(VIEWS * scale)), max(1, round(ORDERS * scale))
    span = 4 * 60 * MINUTE_MS
    viewers = max(1, views * 2 // 5)
    events: list[dict[str, Any]] = []
    for n in range(views):
        at = SESSION_START_MS + rnd.randrange(span)
        viewer = f"dy{rnd.randrange(viewers)}"
        events.append({"event_id": f"v{n}", "kind": "enter", "ts_ms": at, "viewer": viewer})
        gone = at + int(rnd.expovariate(1 / (12 * MINUTE_MS)))
        if gone < SESSION_START_MS + span:
            events.append({"event_id": f"x{n}", "kind": "leave", "ts_ms": gone, "viewer": viewer})
        if n % 4 == 0:
            events.append({"event_id": f"l{n}", "kind": "like", "ts_ms": at + 1_000})
    for n in range(orders):
        product = int(PRODUCTS * rnd.random() ** 2)  # the first products sell best
        at = SESSION_START_MS + rnd.randrange(span)
        amount = 990 + (product * 7_919) % 29_000
        order = {"product_ref": f"sx{product:03d}", "order_ref": f"DY{n}", "amount_fen": amount}
        events.append({"event_id": f"o{n}", "kind": "order", "ts_ms": at, **order})
        if n % 50 == 0:
            back = at + rnd.randrange(3 * 60 * MINUTE_MS)
            events.append({"event_id": f"r{n}", "kind": "refund", "ts_ms": back, **order})
    events.sort(key=lambda e: e["ts_ms"])
    for i in rnd.sample(range(len(events)), k=len(events) // 200):  # late by a batch or so
        j = min(len(events) - 1, i + rnd.randrange(BATCH, 2 * BATCH))
        events[i], events[j] = events[j], events[i]
    return events


def play(operator: httpx.Client, scale: float = 0.001) -> LiveScene:
    """Play the scene through the API; ``operator`` holds the operator's key."""
    scene = LiveScene()
    with (
        _platform_client(operator, "douyin") as douyin,
        _platform_client(operator, "taobao") as tmall,
    ):
        scene.streamers = _streamers(operator, douyin)
        scene.session_id = _session(douyin, scene.streamers["yuhuitongxing"], scale)
        scene.report = _ok(douyin.get(f"/v1/live/sessions/{scene.session_id}/report"))
        _october_signals(tmall, scene.streamers)
        _ok(douyin.put("/v1/trust/policy", json={"alert_below": 3.5, "hold_below": 3.0}))
        ids = {v: k for k, v in scene.streamers.items()}
        scene.before = _scores(douyin, "2024-10-18T00:00:00+08:00", ids)
        for handle, penalty in PENALTIES.items():
            _ok(douyin.post(f"/v1/streamers/{scene.streamers[handle]}/penalties", json=penalty))
        _after_sale_signals(tmall, scene.streamers)
        scene.after = _scores(douyin, "2024-11-01T00:00:00+08:00", ids)
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


def _streamers(operator: httpx.Client, douyin: httpx.Client) -> dict[str, str]:
    made = {}
    for handle, (name, agency) in STREAMERS.items():
        tenant = _ok(operator.post("/v1/tenants", json={"kind": "streamer", "name": name}))
        body = {"handle": handle, "name": name, "agency": agency, "tenant_id": tenant["id"]}
        made[handle] = _ok(douyin.post("/v1/streamers", json=body))["id"]
    return made


def _session(douyin: httpx.Client, streamer_id: str, scale: float) -> str:
    shelf = [
        {
            "product_ref": f"sx{i:03d}",
            "title": f"陕西好物 {i + 1}",
            "price_fen": 990 + (i * 7_919) % 29_000,
        }
        for i in range(PRODUCTS)
    ]
    session = _ok(
        douyin.post(
            "/v1/live/sessions",
            json={
                "streamer_id": streamer_id,
                "title": "与辉同行 陕西专场",
                "starts_at": "2024-10-10T20:00:00+08:00",
                "ends_at": "2024-10-11T00:00:00+08:00",
                "products": shelf,
            },
        )
    )
    events = session_events(scale)
    for i in range(0, len(events), BATCH):
        body = {"events": events[i : i + BATCH]}
        _ok(douyin.post(f"/v1/live/sessions/{session['id']}/events", json=body))
    _ok(douyin.post(f"/v1/live/sessions/{session['id']}/end", json={}))
    return str(session["id"])


def _october_signals(tmall: httpx.Client, streamers: dict[str, str]) -> None:
    """Each streamer's orders through Tmall links in early October, and ordinary after-sales."""
    signals = []
    for handle, streamer_id in streamers.items():
        for day in range(1, 16):
            signals.append(
                {
                    "streamer_id": streamer_id,
                    "kind": "order",
                    "ref": f"oct-{handle}-{day}",
                    "occurred_at": f"2024-10-{day:02d}T21:00:00+08:00",
                    "count": 400,
                    "amount_fen": 400 * 8_900,
                }
            )
        signals.append(
            {
                "streamer_id": streamer_id,
                "kind": "refund",
                "ref": f"oct-{handle}-refunds",
                "occurred_at": "2024-10-15T21:00:00+08:00",
                "count": 120,
            }
        )
    _ok(tmall.post("/v1/trust/signals", json={"signals": signals}))


def _after_sale_signals(tmall: httpx.Client, streamers: dict[str, str]) -> None:
    """After the scandals: complaints, refunds and quality incidents on the penalised two."""
    signals = []
    for handle in PENALTIES:
        for kind, count in (("complaint", 90), ("refund", 900), ("quality_incident", 30)):
            signals.append(
                {
                    "streamer_id": streamers[handle],
                    "kind": kind,
                    "ref": f"after-{handle}-{kind}",
                    "occurred_at": "2024-10-26T12:00:00+08:00",
                    "count": count,
                }
            )
    _ok(tmall.post("/v1/trust/signals", json={"signals": signals}))
