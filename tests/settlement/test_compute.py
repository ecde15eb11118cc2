"""What settlement owes, from a hand-built lake, on both engines: the same charges and
commissions to the fen, and the numbers checked by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from hutong.lake.engines import Engine
from hutong.settlement.compute import TERMS, Shares
from hutong.settlement.service import compute_all
from tests.attribution.lake import HOUR, T0, Lake

DAY0 = dt.date(2024, 11, 11)


def build(root: Path) -> tuple[pa.Table, pa.Table]:
    lake = Lake(root)
    for cid, model in (("CPC", ""), ("CPM", ""), ("CPS", "linear"), ("CPS2", "")):
        lake.campaign(cid, "M", model=model)
    t = T0 + 10 * HOUR
    for device in ("d1", "d2", "d3"):
        lake.click("CPC", device, t - HOUR)
    lake.click("CPC", "d4", t - HOUR, bot=True)
    lake.click("CPC", "d1", t - HOUR + 1, duplicate=True)
    for i in range(7):
        lake.view("CPM", f"v{i}", t - 2 * HOUR)
    lake.view("CPM", "v9", t - 2 * HOUR, bot=True)
    # o1: an affiliate's CPS click, then a plain CPS2 click; billed by CPS2's last click
    lake.click("CPS", "d5", t - 2 * HOUR, affiliate="S1")
    lake.click("CPS2", "d5", t - HOUR)
    lake.order("o1", "M", t, 10_000, paid=t, device="d5", refunded_fen=1_000, state="paid")
    # o2: the affiliate's click alone, under CPS's linear contract; receipt confirmed
    lake.click("CPS", "d6", t - HOUR, affiliate="S1")
    lake.order("o2", "M", t, 20_000, paid=t, device="d6", state="completed", completed=t + HOUR)
    campaigns = lake.write()
    terms = pa.Table.from_pylist(
        [
            {"campaign_id": "CPC", "billing_model": "cpc", "cpc_fen": 50},
            {"campaign_id": "CPM", "billing_model": "cpm", "cpm_fen": 1_234},
            {"campaign_id": "CPS", "billing_model": "cps", "cps_rate_bp": 500},
            {"campaign_id": "CPS2", "billing_model": "cps", "cps_rate_bp": 300},
        ],
        schema=TERMS,
    )
    terms = terms.set_column(1, "buyer_id", pa.array(["M"] * 4)).set_column(
        6, "budget_fen", pa.array([10**9] * 4, pa.int64())
    )
    return campaigns, terms


def test_charges_and_commissions(tmp_path: Path, engine: Engine) -> None:
    campaigns, terms = build(tmp_path)
    shares = Shares({("douyin-media", "S1"): 8_000})
    computed = compute_all(
        engine, tmp_path, campaigns, terms, shares, DAY0, DAY0 + dt.timedelta(days=1)
    )
    units = {(r["campaign_id"], r["kind"]): r["units"] for r in computed.units.to_pylist()}
    assert units[("CPC", "cpc")] == 3  # the bot's and the duplicate's clicks are not billed
    assert units[("CPM", "cpm")] == 7
    assert units[("CPS", "cpc")] == 2  # counted, but a CPS campaign pays no CPC
    rows = {
        (r["order_id"], r["payee_id"]): (
            r["campaign_id"],
            r["model"],
            r["credit_fen"],
            r["owed_fen"],
        )
        for r in computed.commissions.to_pylist()
    }
    assert rows == {
        # last click under CPS2's contract; the refund is taken off before the rate
        ("o1", "douyin-media"): ("CPS2", "last_click", 9_000, 270),
        # 5% of 20,000 = 1,000: 80% to the streamer, 20% to the platform
        ("o2", "S1"): ("CPS", "linear", 20_000, 800),
        ("o2", "douyin-media"): ("CPS", "linear", 20_000, 200),
    }
    completed = dict(
        zip(
            computed.conversions["order_id"].to_pylist(),
            computed.conversions["completed_ms"].to_pylist(),
            strict=True,
        )
    )
    assert completed["o1"] is None and completed["o2"] == T0 + 11 * HOUR


def test_a_presale_converts_once_at_its_final_payment(tmp_path: Path, engine: Engine) -> None:
    """Booked with a deposit on the 11th, the final payment five days later: no conversion and
    no commission while only the deposit is paid, then one, for the whole amount, credited to
    the click before the booking (windows are anchored at placing, not at payment)."""
    lake = Lake(tmp_path)
    lake.campaign("CPS", "M", click_days=3)
    t = T0 + 10 * HOUR
    lake.click("CPS", "d7", t - 2 * 24 * HOUR, affiliate="S1")
    deposit_only = dict(state="deposit_paid", device="d7", updated=t + HOUR)
    lake.order("pre", "M", t, 10_000, **deposit_only)  # type: ignore[arg-type]
    campaigns = lake.write()
    terms = pa.Table.from_pylist(
        [
            {
                "campaign_id": "CPS",
                "buyer_id": "M",
                "billing_model": "cps",
                "cps_rate_bp": 1_000,
                "budget_fen": 10**9,
            }
        ],
        schema=TERMS,
    )
    day = (DAY0, DAY0 + dt.timedelta(days=1))
    before = compute_all(engine, tmp_path, campaigns, terms, Shares({}), *day)
    assert before.conversions.num_rows == 0 and before.commissions.num_rows == 0

    final = t + 5 * 24 * HOUR
    lake.order("pre", "M", t, 10_000, paid=final, state="paid", device="d7")
    campaigns = lake.write()
    after = compute_all(engine, tmp_path, campaigns, terms, Shares({}), *day)
    assert after.conversions["order_id"].to_pylist() == ["pre"]
    rows = after.commissions.to_pylist()
    assert [(r["order_id"], r["credit_fen"], r["paid_ms"]) for r in rows] == [
        ("pre", 10_000, final),
        ("pre", 10_000, final),
    ]
    assert sum(r["owed_fen"] for r in rows) == 1_000
