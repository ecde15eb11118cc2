"""Streamers, live sessions and the penalty record through the HTTP API, on SQLite and
PostgreSQL: the article's streamer penalised before Double 11, an appeal heard and upheld,
a revoked penalty that stops counting, every illegal move a 409, and each tenant's view."""

from __future__ import annotations

from tests.api.market import build_market, ok
from tests.conftest import LiveServer

PENALTY = {
    "points": 6,
    "code": "product_quality",
    "reason": "goods sold in the live room failed the platform's quality inspection",
    "occurred_at": "2024-10-28T12:00:00+08:00",
}


def test_streamer_sessions_and_the_penalty_ledger(server: LiveServer) -> None:
    m = build_market(server)
    try:
        douyin = m.client("douyin")
        streamer = ok(
            douyin.post(
                "/v1/streamers",
                json={
                    "handle": "xiaoyang.ge",
                    "name": "Brother Yang",
                    "agency": "Three Sheep Network",
                    "tenant_id": m.tenants["streamer"],
                },
            ),
            201,
        )
        assert (streamer["platform_id"], streamer["penalty_points"]) == ("douyin", 0)
        sid = streamer["id"]
        taken = douyin.post("/v1/streamers", json={"handle": "xiaoyang.ge", "name": "again"})
        assert taken.status_code == 409

        session = ok(
            douyin.post(
                "/v1/live/sessions",
                json={
                    "streamer_id": sid,
                    "title": "Double 11 warm-up",
                    "starts_at": "2024-10-24T20:00:00+08:00",
                    "ends_at": "2024-10-25T02:00:00+08:00",
                    "products": [
                        {"product_ref": "3701", "title": "mooncake gift box", "price_fen": 19_900},
                        {"product_ref": "3702", "title": "hairy crab voucher", "price_fen": 39_900},
                    ],
                },
            ),
            201,
        )
        assert [p["position"] for p in session["products"]] == [0, 1]
        assert session["state"] == "scheduled" and session["platform_id"] == "douyin"
        backwards = douyin.post(
            "/v1/live/sessions",
            json={
                "streamer_id": sid,
                "title": "x",
                "starts_at": "2024-10-25T02:00:00+08:00",
                "ends_at": "2024-10-24T20:00:00+08:00",
            },
        )
        assert backwards.status_code == 422

        # a penalty before Double 11, created once whatever the retries
        headers = {"Idempotency-Key": "penalty-2024-10-28"}
        first = ok(
            douyin.post(f"/v1/streamers/{sid}/penalties", json=PENALTY, headers=headers), 201
        )
        again = douyin.post(f"/v1/streamers/{sid}/penalties", json=PENALTY, headers=headers)
        assert again.json()["id"] == first["id"] and again.headers["Idempotent-Replayed"] == "true"
        second = ok(
            douyin.post(
                f"/v1/streamers/{sid}/penalties",
                json={
                    **PENALTY,
                    "points": 3,
                    "code": "false_advertising",
                    "occurred_at": "2024-10-30T21:00:00+08:00",
                },
            ),
            201,
        )
        assert ok(douyin.get(f"/v1/streamers/{sid}"))["penalty_points"] == 9

        # the streamer appeals the first; the platform upholds it: it counts, finally
        mine = m.client("streamer")
        appealed = ok(
            mine.post(f"/v1/penalties/{first['id']}/appeal", json={"note": "supplier's fault"})
        )
        assert appealed["state"] == "appealed" and appealed["counts"] is True
        assert mine.post(f"/v1/penalties/{first['id']}/uphold", json={}).status_code == 403
        upheld = ok(douyin.post(f"/v1/penalties/{first['id']}/uphold", json={"note": "no"}))
        assert [(h["from_state"], h["to_state"]) for h in upheld["history"]] == [
            ("", "raised"),
            ("raised", "appealed"),
            ("appealed", "upheld"),
        ]
        illegal = douyin.post(f"/v1/penalties/{first['id']}/revoke", json={})
        assert illegal.status_code == 409 and illegal.json()["code"] == "illegal_transition"

        # the second is withdrawn: it stops counting, and cannot be appealed any more
        revoked = ok(douyin.post(f"/v1/penalties/{second['id']}/revoke", json={}))
        assert revoked["counts"] is False
        assert mine.post(f"/v1/penalties/{second['id']}/appeal", json={}).status_code == 409
        assert ok(douyin.get(f"/v1/streamers/{sid}"))["penalty_points"] == 6
        listed = ok(mine.get(f"/v1/streamers/{sid}/penalties"))  # by the offence's time
        assert [(p["code"], p["state"]) for p in listed] == [
            ("product_quality", "upheld"),
            ("false_advertising", "revoked"),
        ]

        # who sees what: Kuaishou does not; the shelf platform reads the record
        assert m.client("kuaishou").get(f"/v1/streamers/{sid}").status_code == 404
        assert ok(m.client("kuaishou").get("/v1/streamers")) == []
        assert ok(m.client("tmall").get(f"/v1/streamers/{sid}"))["penalty_points"] == 6
        assert [s["id"] for s in ok(mine.get("/v1/live/sessions"))] == [session["id"]]
        assert (
            m.client("kuaishou").post(f"/v1/streamers/{sid}/penalties", json=PENALTY).status_code
            == 404
        )
        assert (
            m.client("tmall").post(f"/v1/streamers/{sid}/penalties", json=PENALTY).status_code
            == 403
        )
        bad = douyin.post(f"/v1/streamers/{sid}/penalties", json={**PENALTY, "points": 0})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
        assert (
            m.client("tmall").post("/v1/streamers", json={"handle": "x", "name": "x"}).status_code
            == 403
        )
    finally:
        m.close()
