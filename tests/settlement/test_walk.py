"""Settlement through the public interfaces, on SQLite and PostgreSQL: CPC charged up to the
budget, CPS split between Douyin and its streamer by the rate table, estimated → confirmed →
held → settled, a refund after the period closed clawed back in the next one, statements as
JSON, CSV and XLSX that reconcile with the balances, and a ledger that sums to zero."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import time

import httpx
from openpyxl import load_workbook
from sqlalchemy import update

from hutong.commerce.models import Order
from hutong.lake.compact import SHANGHAI
from hutong.settlement import ledger
from hutong.worker.runner import compact_all
from tests.api.market import MOBILE_SAFARI, build_market, ok
from tests.api.test_jump_flow import jump, wait_for
from tests.commerce.shop import (
    ADDRESS,
    connect_sandbox,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer
from tests.serving import cli, env_for


def _commissions(m, who: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return {c["role"]: c for c in ok(m.client(who).get("/v1/settlement/commissions"))}


def test_charges_commissions_states_clawback_and_statements(server: LiveServer) -> None:
    runtime = server.world.runtime
    runtime.settings = dataclasses.replace(runtime.settings, settle_holding_days=0)
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        feed = m.placement("kuaishou", "feed")
        cps = m.campaign("tmall", [splash], billing="cps")
        cpc = m.campaign("tmall", [feed], billing="cpc", budget_fen=120)
        cps_link = m.link("tmall", cps, splash, affiliate_id=m.tenants["streamer"])
        cpc_link = m.link("tmall", cpc, feed)
        wait_for(lambda: cpc_link["code"] in runtime.cache.links)
        wait_for(lambda: cps_link["code"] in runtime.cache.links)
        for i in range(3):  # three billable clicks at 50 fen: 150 owed, the budget is 120
            assert jump(server, cpc_link["code"], MOBILE_SAFARI, ip=f"10.8.0.{i}").status_code
        answer = jump(server, cps_link["code"], MOBILE_SAFARI, "?oaid=OAID-W", ip="10.8.1.1")
        token = str(httpx.URL(answer.headers["location"]).params["ht_ct"])
        ok(
            m.client("douyin").put(
                "/v1/settlement/rates",
                json={"affiliate_id": m.tenants["streamer"], "affiliate_share_bp": 8_000},
            )
        )
        with sandbox_emulator({"tmall-shop-1": "s3cret"}) as (_emulator, gateway):
            connect_sandbox(m, "tmall", gateway, "tmall-shop-1", "s3cret")
            sku = product(m, "tmall", price_fen=10_000, stock=5)["skus"][0]["id"]
            created = ok(
                m.client("tmall").post(
                    "/v1/orders",
                    json={
                        "lines": [{"sku_id": sku, "quantity": 1}],
                        "buyer_ref": "13800000123",
                        "ship_to": ADDRESS,
                        "click_token": token,
                    },
                ),
                201,
            )
            order_id = created["id"]
            payment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{order_id}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            assert httpx.post(payment["pay_url"]).status_code == 200
            wait_until(lambda: state_of(m, "tmall", order_id) == "paid")
            runtime.clicks.rotate()
            time.sleep(0.1)
            compact_all(runtime.settings)

            first = ok(m.operator.post("/v1/settlement/runs", json={}))
            assert first["charged_fen"] == 120 and first["capped_fen"] == 30
            assert first["commissions"] == {"estimated": 2}
            again = ok(m.operator.post("/v1/settlement/runs", json={}))
            assert again["entries"] == 0  # the same lake books nothing twice
            mine = _commissions(m, "streamer")
            assert (
                mine["affiliate"]["owed_fen"] == 400 and mine["affiliate"]["state"] == "estimated"
            )
            assert _commissions(m, "douyin")["platform"]["owed_fen"] == 100

            # the buyer confirms receipt; Douyin's share settles, the held streamer's does not
            with server.world.store.transaction() as session:
                session.execute(update(Order).where(Order.id == order_id).values(state="delivered"))
            ok(m.client("tmall").post(f"/v1/orders/{order_id}/confirm-receipt"))
            ok(
                m.operator.post(
                    "/v1/settlement/holds",
                    json={"tenant_id": m.tenants["streamer"], "reason": "after-sale complaints"},
                ),
                201,
            )
            ok(m.operator.post("/v1/settlement/runs", json={}))
            assert _commissions(m, "douyin")["platform"]["state"] == "settled"
            held = _commissions(m, "streamer")["affiliate"]
            assert (held["state"], held["hold_reason"]) == ("held", "after-sale complaints")
            released = m.operator.post(
                "/v1/settlement/holds/release", json={"tenant_id": m.tenants["streamer"]}
            )
            assert released.status_code == 204
            ok(m.operator.post("/v1/settlement/runs", json={}))
            assert _commissions(m, "streamer")["affiliate"]["state"] == "settled"

            # the month closes; a refund afterwards is clawed back in the next open period
            this_month = ledger.period_id(dt.datetime.now(SHANGHAI).date())
            with server.world.store.transaction() as session:
                ledger.close(session, this_month, today=dt.date(2100, 1, 1))
            closed = ok(m.client("douyin").get(f"/v1/settlement/periods/{this_month}/statement"))
            assert closed["state"] == "closed"
            assert closed["totals"] == {"commission_pending": 0, "commission_payable": -100}
            ok(
                m.client("tmall").post(
                    f"/v1/orders/{order_id}/refunds", json={"amount_fen": 2_000, "reason": "dent"}
                ),
                201,
            )
            wait_until(lambda: state_of(m, "tmall", order_id) == "partially_refunded")
        ok(m.operator.post("/v1/settlement/runs", json={}))
        assert _commissions(m, "streamer")["affiliate"]["settled_fen"] == 320  # 80% of 5% of 8,000
        assert (
            ok(m.client("douyin").get(f"/v1/settlement/periods/{this_month}/statement")) == closed
        )
        periods = {
            p["id"]: p["state"] for p in ok(m.client("douyin").get("/v1/settlement/periods"))
        }
        following = next(p for p, s in sorted(periods.items()) if s == "open" and p > this_month)
        later = ok(m.client("douyin").get(f"/v1/settlement/periods/{following}/statement"))
        assert [(line["kind"], line["amount_fen"]) for line in later["lines"]] == [("clawback", 20)]
        assert later["opening_fen"] == closed["closing_fen"] == -100

        # statements reconcile with balances, as JSON, CSV and XLSX; the ledger sums to zero
        for who in ("tmall", "douyin", "kuaishou", "streamer"):
            balance = ok(m.client(who).get("/v1/settlement/balances"))
            statement = ok(m.client(who).get(f"/v1/settlement/periods/{following}/statement"))
            assert statement["closing_fen"] == balance["total_fen"], who
        tmall = ok(m.client("tmall").get("/v1/settlement/balances"))["accounts"]
        assert tmall == {"traffic_cost": 120, "cps_accrued": 0, "cps_payable": 400}
        with server.world.store.reading() as session:
            assert ledger.total(session) == 0
        sheet = m.client("douyin").get(f"/v1/settlement/periods/{this_month}/statement?format=csv")
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        assert ["closing balance", "", "-100", "-1.00"] in rows
        book = m.client("douyin").get(f"/v1/settlement/periods/{this_month}/statement?format=xlsx")
        totals = load_workbook(io.BytesIO(book.content))["totals"]
        assert ["closing balance", None, -100, "-1.00"] in [
            list(r) for r in totals.iter_rows(values_only=True)
        ]

        # the others' books stay theirs; bad input is a clear 4xx
        other = m.client("douyin").get(f"/v1/settlement/balances?tenant_id={m.tenants['streamer']}")
        assert other.status_code == 404
        assert m.client("douyin").post("/v1/settlement/runs", json={}).status_code == 403
        assert m.operator.get("/v1/settlement/periods/2024-13/statement").status_code == 422
        assert m.operator.post(f"/v1/settlement/periods/{following}/close").json()["code"] == (
            "period_not_over"
        )
        bad_rate = m.client("douyin").put(
            "/v1/settlement/rates", json={"affiliate_share_bp": 10_001}
        )
        assert bad_rate.status_code == 422

        # the command line prints the same statements and writes them as files
        settings = server.world.settings
        env = env_for(settings.data_dir, settings.database_url)
        out = settings.data_dir / "statements"
        printed = cli(env, "settle", "--period", this_month, "--out", str(out)).stdout
        assert "commission_payable" in printed
        assert (out / f"statement-{this_month}-{m.tenants['douyin']}.xlsx").exists()
    finally:
        m.close()
