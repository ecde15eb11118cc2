"""Orders from the alliances that only offer polling (Taobao Alliance, JD Union), through the
public interfaces on SQLite and PostgreSQL, against the emulator that answers in their
published formats: windows that shrink in the Double 11 promotion, one row per line whatever
the overlap, lines that move in place, and their commissions settled like any other."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hutong.settlement import ledger
from hutong.settlement.alliances import jd, taobao
from hutong.settlement.alliances.emulator import AllianceEmulator
from hutong.settlement.alliances.protocol import AllianceError, fen_of, spelled
from tests.api.market import build_market, ok
from tests.conftest import LiveServer, running

BEIJING = dt.timezone(dt.timedelta(hours=8))
ELEVEN = dt.datetime(2024, 11, 11, 0, 0, tzinfo=BEIJING)


def tb_line(n: int, at: dt.datetime, status: int = 12, **extra: Any) -> dict[str, Any]:
    return {
        "trade_id": f"2024111{n:08d}",
        "trade_parent_id": f"2024110{n:08d}",
        "item_id": "6543210",
        "adzone_id": 110_220_330,
        "tk_status": status,
        "alipay_total_price": "199.00",
        "pay_price": "",
        "pub_share_pre_fee": "9.95",
        "pub_share_fee": "0.00",
        "tk_create_time": spelled(at),
        "tk_paid_time": spelled(at),
        "modified_time": spelled(at),
        **extra,
    }


def jd_line(n: int, at: dt.datetime, code: int = 16, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"88{n:08d}",
        "orderId": 300_000 + n,
        "parentId": 0,
        "skuId": 100_012_043_978,
        "positionId": 3_003_003,
        "validCode": code,
        "estimateCosPrice": 299.0,
        "estimateFee": 14.95,
        "actualCosPrice": 0,
        "actualFee": 0,
        "orderTime": spelled(at),
        "finishTime": "",
        "modifyTime": spelled(at),
        "payMonth": 0,
        **extra,
    }


def test_lines_read_as_published() -> None:
    paid = taobao.line_of(tb_line(1, ELEVEN))
    assert (paid.state, paid.amount_fen, paid.commission_fen) == ("paid", 19_900, 995)
    assert paid.position_id == "110220330" and paid.placed_at == ELEVEN
    settled = taobao.line_of(
        tb_line(
            1, ELEVEN, 3, pay_price="180.00", pub_share_fee="9.00", tk_earning_time=spelled(ELEVEN)
        )
    )
    assert (settled.state, settled.amount_fen, settled.commission_fen) == ("settled", 18_000, 900)
    deposit = taobao.line_of(tb_line(2, ELEVEN, tk_paid_time="", tk_deposit_time=spelled(ELEVEN)))
    assert deposit.state == "deposit"
    assert taobao.line_of(tb_line(3, ELEVEN, 13)).state == "invalid"
    row = jd_line(1, ELEVEN, estimateCosPrice=Decimal("299.00"), estimateFee=Decimal("14.95"))
    assert (jd.line_of(row).amount_fen, jd.line_of(row).commission_fen) == (29_900, 1_495)
    done = jd.line_of(
        jd_line(
            1,
            ELEVEN,
            17,
            actualCosPrice=Decimal("299"),
            actualFee=Decimal("14.95"),
            finishTime=spelled(ELEVEN + dt.timedelta(days=3)),
            payMonth=20241220,
        )
    )
    assert done.state == "settled" and done.confirmed_at == ELEVEN + dt.timedelta(days=3)
    assert jd.line_of(jd_line(2, ELEVEN, 3)).state == "invalid"
    assert jd.line_of(jd_line(2, ELEVEN, 15)).state == "unpaid"


@given(st.integers(min_value=0, max_value=10**12))
def test_yuan_amounts_are_read_to_the_fen_exactly(fen: int) -> None:
    text = f"{fen // 100}.{fen % 100:02d}"
    assert fen_of(text) == fen
    assert fen_of(Decimal(text)) == fen


def test_an_amount_finer_than_a_fen_is_an_error_not_a_rounding() -> None:
    with pytest.raises(AllianceError):
        fen_of("1.005")
    with pytest.raises(AllianceError):
        fen_of("abc")


def _connect(m, platform: str, gateway: str, settings: dict[str, str], start: dt.datetime) -> str:  # type: ignore[no-untyped-def]
    body = {
        "platform": platform,
        "payer_id": m.tenants["tmall" if platform == "taobao" else "jd"],
        "settings": settings,
        "gateway_url": gateway,
        "start_at": start.isoformat(),
    }
    return str(ok(m.client("douyin").post("/v1/alliances/accounts", json=body), 201)["id"])


def _orders(m, account: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = ok(m.client("douyin").get(f"/v1/alliances/orders?account_id={account}&limit=1000"))
    return {r["order_ref"]: r for r in rows}


def test_polled_through_shrinking_windows_once_per_line_and_settled(server: LiveServer) -> None:
    runtime = server.world.runtime
    runtime.settings = dataclasses.replace(runtime.settings, settle_holding_days=0)
    m = build_market(server)
    emulator = AllianceEmulator({"tb-key": "tb-secret", "jd-key": "jd-secret"})
    try:
        with running(emulator.app) as url:
            # Taobao on the night of Double 11: 250 lines in the first hour, windows of 3 hours
            # are refused (the promotion's limit is 20 minutes) and busy windows halve
            for n in range(250):
                emulator.put("taobao", tb_line(n, ELEVEN + dt.timedelta(seconds=14 * n)))
            tb = _connect(
                m,
                "taobao",
                f"{url}/router/rest",
                {"app_key": "tb-key", "app_secret": "tb-secret", "session": "sess"},
                ELEVEN - dt.timedelta(hours=1),
            )
            until = {"until": (ELEVEN + dt.timedelta(hours=2)).isoformat()}
            first = ok(m.client("douyin").post(f"/v1/alliances/accounts/{tb}/poll", json=until))
            assert first["errors"] == [] and first["lines"] >= 250
            assert first["window_seconds"] <= 20 * 60
            spans = [
                dt.datetime.fromisoformat(c["end_time"])
                - dt.datetime.fromisoformat(c["start_time"])
                for c in emulator.calls
                if c["method"] == taobao.METHOD and "position_index" not in c
            ]
            assert max(spans) == dt.timedelta(hours=3)  # tried once, refused
            assert all(s <= dt.timedelta(minutes=20) for s in spans[1:])
            assert len(_orders(m, tb)) == 250
            # polling again over the same hours (the overlap and more) changes nothing
            again = ok(m.client("douyin").post(f"/v1/alliances/accounts/{tb}/poll", json=until))
            assert again["changed"] == 0 and len(_orders(m, tb)) == 250

            # JD Union, recent: lines move in place (paid → completed; one cancelled)
            now = dt.datetime.now(dt.UTC)
            placed = now - dt.timedelta(hours=3)
            for n in range(3):
                emulator.put("jd", jd_line(n, placed + dt.timedelta(minutes=n)))
            jdacc = _connect(
                m,
                "jd",
                f"{url}/routerjson",
                {"app_key": "jd-key", "app_secret": "jd-secret"},
                placed - dt.timedelta(hours=1),
            )
            ok(
                m.client("douyin").put(
                    f"/v1/alliances/accounts/{jdacc}/positions/3003003",
                    json={"affiliate_id": m.tenants["streamer"]},
                )
            )
            ok(
                m.client("douyin").put(
                    "/v1/settlement/rates",
                    json={"affiliate_id": m.tenants["streamer"], "affiliate_share_bp": 6_000},
                )
            )
            ok(m.client("douyin").post(f"/v1/alliances/accounts/{jdacc}/poll"))
            assert {r["state"] for r in _orders(m, jdacc).values()} == {"paid"}

            ok(m.operator.post("/v1/settlement/runs", json={}))
            mine = ok(m.client("streamer").get("/v1/settlement/commissions"))
            assert sorted(c["owed_fen"] for c in mine) == [897, 897, 897]  # 60% of 14.95
            assert {c["state"] for c in mine} == {"estimated"}

            moved = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)  # stamped late: overlap
            emulator.put(
                "jd",
                jd_line(
                    0,
                    placed,
                    17,
                    actualCosPrice=299.0,
                    actualFee=14.95,
                    finishTime=spelled(moved),
                    modifyTime=spelled(moved),
                ),
            )
            emulator.put("jd", jd_line(1, placed, 4, modifyTime=spelled(moved)))
            emulator.busy = 1  # the gateway is throttled once: the pass stops, nothing lost
            throttled = ok(m.client("douyin").post(f"/v1/alliances/accounts/{jdacc}/poll"))
            assert throttled["errors"] and throttled["changed"] == 0
            listed = ok(m.client("douyin").get("/v1/alliances/accounts"))
            assert next(a for a in listed if a["id"] == jdacc)["last_error"]
            polled = ok(m.client("douyin").post(f"/v1/alliances/accounts/{jdacc}/poll"))
            assert polled["changed"] == 2
            states = {r["order_ref"]: r["state"] for r in _orders(m, jdacc).values()}
            assert states == {
                "8800000000": "confirmed",
                "8800000001": "invalid",
                "8800000002": "paid",
            }

            ok(m.operator.post("/v1/settlement/runs", json={}))
            line_of = {r["id"]: ref for ref, r in _orders(m, jdacc).items()}
            by_ref = {
                line_of[c["order_id"]]: c
                for c in ok(m.client("streamer").get("/v1/settlement/commissions"))
            }
            assert {c["source"] for c in by_ref.values()} == {"jd"}
            assert by_ref["8800000000"]["state"] == "settled"
            assert by_ref["8800000001"]["state"] == "invalid"
            assert by_ref["8800000002"]["state"] == "estimated"
            douyin = ok(m.client("douyin").get("/v1/settlement/commissions"))
            assert {c["owed_fen"] for c in douyin if line_of[c["order_id"]] == "8800000002"} == {
                598
            }
            jd_books = ok(m.client("jd").get("/v1/settlement/balances"))["accounts"]
            assert jd_books["cps_payable"] == 1_495 and jd_books["cps_accrued"] == 1_495
            with server.world.store.reading() as session:
                assert ledger.total(session) == 0

            # bad input is a clear 4xx; others' accounts stay theirs
            dup = m.client("douyin").post(
                "/v1/alliances/accounts",
                json={
                    "platform": "jd",
                    "payer_id": m.tenants["jd"],
                    "gateway_url": url,
                    "settings": {"app_key": "jd-key", "app_secret": "x"},
                },
            )
            assert dup.status_code == 409
            missing = m.client("douyin").post(
                "/v1/alliances/accounts",
                json={
                    "platform": "taobao",
                    "payer_id": m.tenants["tmall"],
                    "gateway_url": url,
                    "settings": {"app_key": "other"},
                },
            )
            assert missing.status_code == 422 and "session" in missing.json()["detail"]
            wrong_payer = m.client("douyin").post(
                "/v1/alliances/accounts",
                json={
                    "platform": "jd",
                    "payer_id": m.tenants["streamer"],
                    "gateway_url": url,
                    "settings": {"app_key": "k2", "app_secret": "x"},
                },
            )
            assert wrong_payer.status_code == 422
            assert (
                m.client("kuaishou").post(f"/v1/alliances/accounts/{jdacc}/poll").status_code == 404
            )
            assert ok(m.client("kuaishou").get("/v1/alliances/orders")) == []
            assert len(ok(m.client("jd").get(f"/v1/alliances/orders?account_id={jdacc}"))) == 3
    finally:
        emulator.close()
        m.close()
