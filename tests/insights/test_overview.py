"""The overview on a hand-built lake, the same on both engines: days are Asia/Shanghai days,
bots and duplicates are not clicks, unpaid orders add no GMV, each order counts once (its
latest exported version), growth compares a platform with its own day before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hutong.insights.overview import overview, with_rates
from hutong.lake.engines import Engine
from tests.attribution.lake import HOUR, T0, Lake


def test_overview_by_shanghai_day_and_platform(tmp_path: Path, engine: Engine) -> None:
    lake = Lake(tmp_path)
    lake.campaign("A", "M")
    day1 = T0  # 2024-11-11 08:00 in Shanghai
    late = T0 + 15 * HOUR + 59 * 60_000  # 23:59 in Shanghai: still the 11th
    next_day = T0 + 16 * HOUR  # 00:00 on the 12th
    for at in (day1, late, next_day, next_day):
        lake.click("A", "d1", at, target_platform="tmall")
    lake.click("A", "d1", day1, target_platform="tmall", bot=True)
    lake.click("A", "d1", day1, target_platform="tmall", duplicate=True)
    lake.click("A", "d2", day1, target_platform="jd")
    lake.order("o1", "M", day1, 10_000, updated=day1)  # first exported unpaid ...
    lake.order("o1", "M", day1, 10_000, paid=day1 + HOUR, refunded_fen=2_500)  # ... then paid
    lake.order("o2", "M", late, 5_000, paid=late)
    lake.order("o3", "M", late, 7_000)  # never paid
    lake.order("o4", "M", next_day, 30_000, paid=next_day)
    lake.order("o5", "M", next_day, 900, paid=next_day, platform="jd")
    campaigns = lake.write()
    rows = with_rates(
        overview(engine, tmp_path, campaigns, dt.date(2024, 11, 11), dt.date(2024, 11, 13))
    )
    got = [
        (
            str(r["day"]),
            r["platform_id"],
            r["clicks"],
            r["orders"],
            r["paid_orders"],
            r["gmv_fen"],
            r["refunded_fen"],
        )
        for r in rows
    ]
    assert got == [
        ("2024-11-11", "jd", 1, 0, 0, 0, 0),
        ("2024-11-11", "tmall", 2, 3, 2, 15_000, 2_500),
        ("2024-11-12", "jd", 0, 1, 1, 900, 0),
        ("2024-11-12", "tmall", 2, 1, 1, 30_000, 0),
    ]
    tmall = [r for r in rows if r["platform_id"] == "tmall"]
    assert tmall[0]["conversion"] == 1.0 and tmall[0]["growth"] is None
    assert tmall[1]["growth"] == 1.0  # 15,000 fen to 30,000 fen
    assert rows[0]["conversion"] == 0.0 and rows[2]["conversion"] is None
