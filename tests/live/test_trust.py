"""The trust score: monotone in every bad signal, explained exactly, silent below the minimum
sample; and through the HTTP API on SQLite and PostgreSQL, the article's streamer penalised
before Double 11: the score falls, an alert goes out signed, commissions are held, and when
the penalty is revoked the hold is lifted. Fraud patterns are flagged with their evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hutong.commerce.models import Order
from hutong.ids import new_id
from hutong.live.trust.rule import FULL_CP, RATE_FACTORS, evaluate
from hutong.payments.models import Payment, ProviderAccount, Refund
from hutong.settlement.models import Commission
from hutong.worker.models import OutboxMessage
from tests.api.market import Market, build_market, ok
from tests.conftest import LiveServer

NAMES = [f.name for f in RATE_FACTORS]
counts = st.fixed_dictionaries({n: st.integers(0, 400) for n in NAMES})


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2_000),
    counts,
    st.integers(0, 30),
    st.integers(0, 3),
    st.sampled_from([*NAMES, "penalties", "fraud_flags"]),
    st.integers(1, 50),
)
def test_the_score_is_monotone_and_its_explanation_sums(
    orders: int, c: dict[str, int], points: int, flags: int, worse: str, by: int
) -> None:
    base = evaluate(orders, c, points, flags, min_orders=30)
    taken = sum(d.deduction_cp for d in base.deductions)
    assert 0 <= taken <= FULL_CP
    if orders < 30:
        assert base.status == "not_enough_data" and base.score_cp is None
        return
    assert base.score_cp == FULL_CP - taken  # the explanation sums to the score
    more = dict(c)
    if worse in more:
        more[worse] += by
    bad = evaluate(
        orders,
        more,
        points + by * (worse == "penalties"),
        flags + by * (worse == "fraud_flags"),
        min_orders=30,
    )
    assert bad.score_cp is not None and bad.score_cp <= base.score_cp


def test_smoothing_reads_small_numbers_gently() -> None:
    few = evaluate(40, {"refund": 4}, 0, 0, min_orders=30)  # 10 % of 40 orders
    many = evaluate(4_000, {"refund": 400}, 0, 0, min_orders=30)  # 10 % of 4,000
    assert few.score_cp is not None and many.score_cp is not None
    assert few.score_cp > many.score_cp
    assert evaluate(0, {}, 0, 0, min_orders=30).score_cp is None
    assert evaluate(30, {}, 0, 0, min_orders=30).score_cp == FULL_CP


def signals(
    streamer_id: str, prefix: str, kind: str, n: int, day: str, **extra: Any
) -> list[dict[str, Any]]:
    return [
        {
            "streamer_id": streamer_id,
            "kind": kind,
            "ref": f"{prefix}-{kind}-{i}",
            "occurred_at": f"{day}T20:00:00+08:00",
            **extra,
        }
        for i in range(n)
    ]


def setup_streamer(m: Market, handle: str, tenant: str | None) -> str:
    body: dict[str, Any] = {"handle": handle, "name": handle}
    if tenant:
        body["tenant_id"] = m.tenants[tenant]
    return str(ok(m.client("douyin").post("/v1/streamers", json=body), 201)["id"])


def test_penalty_drops_the_score_alerts_and_holds_then_revoking_releases(
    server: LiveServer,
) -> None:
    m = build_market(server)
    try:
        douyin, tmall = m.client("douyin"), m.client("tmall")
        endpoint = ok(
            douyin.post("/v1/postback-endpoints", json={"url": "https://ads.douyin.test/trust"}),
            201,
        )
        policy = ok(
            douyin.put(
                "/v1/trust/policy",
                json={"alert_below": 4.0, "hold_below": 3.5, "endpoint_id": endpoint["id"]},
            )
        )
        assert (policy["platform_id"], policy["min_orders"], policy["window_days"]) == (
            "douyin",
            30,
            90,
        )
        bad = douyin.put("/v1/trust/policy", json={"alert_below": 3.0, "hold_below": 3.5})
        assert bad.status_code == 422
        star = setup_streamer(m, "xiaoyang.ge", "streamer")
        newcomer = setup_streamer(m, "newcomer", None)

        # October: 200 orders a day's worth at a time, a few refunds — a good record
        orders = [
            {**s, "count": 20, "amount_fen": 20 * 19_900}
            for s in signals(star, "oct", "order", 10, "2024-10-20")
        ]
        body = {"signals": orders + signals(star, "oct", "refund", 4, "2024-10-21")}
        assert ok(tmall.post("/v1/trust/signals", json=body)) == {"received": 14, "recorded": 14}
        assert ok(tmall.post("/v1/trust/signals", json=body))["recorded"] == 0  # a retry
        few = {"signals": signals(newcomer, "n", "order", 10, "2024-10-20")}
        ok(tmall.post("/v1/trust/signals", json=few))
        as_of = {"as_of": "2024-10-25T00:00:00+08:00"}
        scores = ok(douyin.post("/v1/trust/recompute", json=as_of))
        by_id = {s["streamer_id"]: s for s in scores}
        assert by_id[newcomer]["status"] == "not_enough_data" and by_id[newcomer]["score"] is None
        good = by_id[star]
        assert good["status"] == "scored" and good["orders"] == 200 and good["score"] >= 4.0
        assert ok(m.operator.get("/v1/settlement/holds")) == []

        # before Double 11: a penalty for product quality, complaints, a quality incident
        penalty = ok(
            douyin.post(
                f"/v1/streamers/{star}/penalties",
                json={
                    "points": 12,
                    "code": "product_quality",
                    "reason": "mooncakes sold as Hong Kong brand were made in Guangzhou",
                    "occurred_at": "2024-10-28T12:00:00+08:00",
                },
            ),
            201,
        )
        worse = signals(star, "nov", "complaint", 8, "2024-10-29") + signals(
            star, "nov", "quality_incident", 2, "2024-10-29"
        )
        ok(m.client("shop").post("/v1/trust/signals", json={"signals": worse}))
        fallen = ok(
            douyin.post(
                "/v1/trust/recompute",
                json={"as_of": "2024-11-01T00:00:00+08:00", "streamer_ids": [star]},
            )
        )[0]
        assert fallen["score"] < 3.5
        taken = {f["factor"]: f["deduction_cp"] for f in fallen["factors"]}
        assert taken["penalties"] == 120 and taken["complaint"] > 0
        assert 500 - sum(taken.values()) == fallen["score_cp"]
        alerts = ok(douyin.get("/v1/trust/alerts"))
        assert [a["kind"] for a in alerts] == ["held", "below"]
        holds = ok(m.operator.get("/v1/settlement/holds"))
        assert [h["tenant_id"] for h in holds] == [m.tenants["streamer"]]
        assert holds[0]["reason"].startswith("trust:")
        with server.world.store.reading() as session:
            sent = list(
                session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "trust_alert"))
            )
        assert len(sent) == 2 and all(msg.url == "https://ads.douyin.test/trust" for msg in sent)
        mine = ok(m.client("streamer").get(f"/v1/streamers/{star}/trust"))
        assert mine["score_cp"] == fallen["score_cp"]  # the streamer reads its explained score

        # the penalty is revoked on appeal: it stops counting, the hold is lifted
        ok(m.client("streamer").post(f"/v1/penalties/{penalty['id']}/appeal", json={}))
        ok(douyin.post(f"/v1/penalties/{penalty['id']}/revoke", json={"note": "supplier's fault"}))
        back = ok(
            douyin.post(
                "/v1/trust/recompute",
                json={"as_of": "2024-11-02T00:00:00+08:00", "streamer_ids": [star]},
            )
        )[0]
        assert back["score"] >= 3.5
        assert ok(m.operator.get("/v1/settlement/holds")) == []
        assert ok(douyin.get("/v1/trust/alerts"))[0]["kind"] in ("released", "recovered")
        history = ok(douyin.get(f"/v1/streamers/{star}/trust/history"))
        assert [h["score_cp"] for h in history] == [
            back["score_cp"],
            fallen["score_cp"],
            good["score_cp"],
        ]
        assert all(h["rule_version"] == "trust-1" for h in history)

        summary = ok(
            tmall.get(
                f"/v1/streamers/{star}/signals",
                params={"since": "2024-10-01T00:00:00+08:00", "until": "2024-11-01T00:00:00+08:00"},
            )
        )
        assert {(r["kind"], r["count"]) for r in summary} >= {
            ("order", 200),
            ("complaint", 8),
            ("quality_incident", 2),
        }
        ranked = ok(tmall.get("/v1/trust/ranking", params={"by": "weighted"}))
        assert [r["handle"] for r in ranked] == ["xiaoyang.ge", "newcomer"]
        assert ranked[0]["weighted_gmv_fen"] == ranked[0]["gmv_fen"] * back["score_cp"] // 500

        # who may do what
        assert m.client("streamer").post("/v1/trust/signals", json=few).status_code == 403
        assert m.client("kuaishou").get(f"/v1/streamers/{star}/trust").status_code == 404
        assert tmall.post("/v1/trust/recompute", json={}).status_code == 403
        unknown = tmall.post(
            "/v1/trust/signals",
            json={"signals": signals("str_nobody", "x", "complaint", 1, "2024-10-29")},
        )
        assert unknown.status_code == 404
    finally:
        m.close()


def _order(session: Any, seller: str, buyer_hash: str, paid: dt.datetime) -> str:
    order_id = new_id("ord")
    session.add(
        Order(
            id=order_id,
            seller_id=seller,
            platform_id="taobao",
            state="completed",
            total_fen=10_000,
            paid_fen=10_000,
            buyer_hash=buyer_hash,
            payment_due_at=paid,
            paid_at=paid,
        )
    )
    return order_id


def _commission(
    session: Any,
    order_id: str,
    payee: str,
    buyer: str,
    paid: dt.datetime,
    confirmed: dt.datetime | None,
) -> None:
    session.add(
        Commission(
            id=new_id("com"),
            order_id=order_id,
            touch_id="t",
            campaign_id="cmp",
            buyer_id=buyer,
            payee_id=payee,
            role="affiliate",
            model="last_click",
            credit_fen=10_000,
            rate_bp=500,
            share_bp=5_000,
            owed_fen=250,
            state="confirmed" if confirmed else "estimated",
            paid_at=paid,
            confirmed_at=confirmed,
        )
    )


def test_self_purchase_and_refund_farming_are_flagged_with_evidence(server: LiveServer) -> None:
    m = build_market(server)
    try:
        douyin = m.client("douyin")
        star = setup_streamer(m, "farmer", "streamer")
        linked = ok(
            douyin.post(f"/v1/streamers/{star}/linked-accounts", json={"accounts": ["13800000001"]})
        )
        assert linked["linked"] == 1
        hasher = server.world.runtime.hasher
        payee, buyer = m.tenants["streamer"], m.tenants["tmall"]
        paid = dt.datetime(2024, 10, 1, 12, tzinfo=dt.UTC)
        with server.world.store.transaction() as session:
            own = [
                _order(session, m.tenants["shop"], hasher.hash("buyer", "13800000001"), paid)
                for _ in range(2)
            ]
            others = [
                _order(session, m.tenants["shop"], hasher.hash("buyer", f"1390000{i:04d}"), paid)
                for i in range(8)
            ]
            session.flush()
            for order_id in own + others:
                _commission(session, order_id, payee, buyer, paid, paid + dt.timedelta(days=10))
            account = ProviderAccount(
                id=new_id("pac"),
                seller_id=m.tenants["shop"],
                provider="sandbox",
                merchant_key="m",
                gateway_url="http://x",
            )
            session.add(account)
            session.flush()
            for n, order_id in enumerate(others[:4]):  # 3 after the commission confirmed
                pay = Payment(
                    id=new_id("pay"),
                    order_id=order_id,
                    seller_id=m.tenants["shop"],
                    account_id=account.id,
                    provider="sandbox",
                    phase="full",
                    out_trade_no=new_id("o")[:32],
                    amount_fen=10_000,
                    state="succeeded",
                    expires_at=paid,
                )
                session.add(pay)
                session.flush()
                session.add(
                    Refund(
                        id=new_id("ref"),
                        order_id=order_id,
                        payment_id=pay.id,
                        out_refund_no=new_id("r")[:32],
                        amount_fen=10_000,
                        state="succeeded",
                        succeeded_at=paid + dt.timedelta(days=20 if n < 3 else 5),
                    )
                )
        ok(
            douyin.post(
                "/v1/trust/recompute",
                json={"as_of": "2024-11-01T00:00:00+08:00", "streamer_ids": [star]},
            )
        )
        flags = {f["kind"]: f for f in ok(douyin.get(f"/v1/streamers/{star}/flags"))}
        assert sorted(flags) == ["refund_farming", "self_purchase"]
        assert sorted(flags["self_purchase"]["evidence"]["order_ids"]) == sorted(own)
        assert flags["refund_farming"]["evidence"]["orders"] == 3
        assert sorted(flags["refund_farming"]["evidence"]["order_ids"]) == sorted(others[:3])
        score = ok(douyin.get(f"/v1/streamers/{star}/trust"))
        taken = {f["factor"]: f for f in score["factors"]}
        assert taken["fraud_flags"]["count"] == 2 and taken["fraud_flags"]["deduction_cp"] == 60
        assert taken["refund"]["count"] == 4  # hutong's own refunds of credited orders count

        dismissed = ok(
            douyin.post(
                f"/v1/trust/flags/{flags['self_purchase']['id']}/dismiss",
                json={"note": "family account, checked"},
            )
        )
        assert dismissed["state"] == "dismissed"
        again = ok(
            douyin.post(
                "/v1/trust/recompute",
                json={"as_of": "2024-11-01T00:00:00+08:00", "streamer_ids": [star]},
            )
        )[0]
        assert {f["factor"]: f["count"] for f in again["factors"]}["fraud_flags"] == 1
    finally:
        m.close()


def test_times_without_a_zone_are_refused_not_guessed(server: LiveServer) -> None:
    m = build_market(server)
    try:
        douyin = m.client("douyin")
        star = setup_streamer(m, "naive", None)
        naive = "2024-10-28T12:00:00"
        attempts = [
            douyin.post(
                "/v1/live/sessions",
                json={"streamer_id": star, "title": "x", "starts_at": naive},
            ),
            douyin.post(
                f"/v1/streamers/{star}/penalties",
                json={"points": 1, "code": "x", "reason": "x", "occurred_at": naive},
            ),
            m.client("tmall").post(
                "/v1/trust/signals",
                json={
                    "signals": [
                        {"streamer_id": star, "kind": "complaint", "ref": "n", "occurred_at": naive}
                    ]
                },
            ),
            douyin.post("/v1/trust/recompute", json={"as_of": naive}),
            douyin.get(f"/v1/streamers/{star}/signals", params={"since": naive}),
        ]
        for answer in attempts:
            assert answer.status_code == 422, answer.text
            assert answer.json()["code"] == "validation_failed"
    finally:
        m.close()
