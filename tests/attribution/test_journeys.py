"""The journey rules on a hand-built lake, on both engines: identity tiers in order, windows to
the millisecond, bots, duplicates and other merchants' campaigns never in a journey, each
order's latest exported version, and the Markov null paths."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hutong.attribution import journeys as J
from hutong.attribution.credit import credit
from hutong.lake.engines import Engine
from tests.attribution.lake import DAY, HOUR, T0, Lake

MINUTE = 60_000
SCOPE = J.Scope(dt.date(2024, 11, 11), dt.date(2024, 11, 12), lookback_days=7)


def build(root: Path) -> tuple[Lake, pa.Table, dict[str, str]]:
    lake = Lake(root)
    lake.campaign("A", "M", click_days=7, view_days=1)
    lake.campaign("B", "M", click_days=3, view_days=1)
    lake.campaign("X", "N")
    lake.campaign("P", "")  # Tmall's own campaign: for all its merchants
    lake.campaign("J", "M", platform="jd")  # the same merchant's shop on another platform
    t = T0 + 10 * HOUR  # 18:00 in Shanghai on 11 November
    ids = {
        "view_a_old": lake.view("A", "d1", t - 2 * DAY),  # beyond the 1-day view window
        "view_a": lake.view("A", "d1", t - 23 * HOUR),
        "click_b_edge": lake.click("B", "d1", t - 3 * DAY),  # exactly 3 days: counts
        "click_b_late": lake.click("B", "d1", t - 3 * DAY - 1),  # 1 ms too early
        "click_x": lake.click("X", "d1", t - HOUR),  # another merchant's campaign
        "click_bot": lake.click("A", "d1", t - 30 * MINUTE, bot=True),
        "click_dup": lake.click("A", "d1", t - 20 * MINUTE, duplicate=True),
        "click_p": lake.click("P", "d1", t - 40 * MINUTE),
        "click_j": lake.click("J", "d1", t - 50 * MINUTE),
        "click_a": lake.click("A", "d1", t - 10 * MINUTE),  # carried as o1's token
        "click_a_after": lake.click("A", "d1", t - 5 * MINUTE),
        "view_bot": lake.view("A", "d1", t - 2 * HOUR, bot=True),
        "click_d3": lake.click("B", "d3", t - HOUR),
        "stray": lake.click("A", "d9", t - HOUR),  # nobody's order: a null path
    }
    # o1: the token wins over its device id; exported once unpaid, then paid (latest wins)
    lake.order("o1", "M", t, 0, click=ids["click_a"], device="d3", buyer="b1", updated=t)
    lake.order("o1", "M", t, 1_000, paid=t + MINUTE, click=ids["click_a"], device="d3", buyer="b1")
    # o2: no token, a device id, an hour later: d1's touchpoints including the later click
    lake.order("o2", "M", t + HOUR, 999, paid=t + HOUR, device="d1", buyer="b2")
    # o3: only the buyer hash, tied to d1 by o1's token
    lake.order("o3", "M", t + 2 * HOUR, 500, paid=t + 2 * HOUR, buyer="b1")
    # o4 unpaid; o5's token is a bot click and nothing else ties it; o6 placed out of scope
    lake.order("o4", "M", t, 700, click=ids["click_a"])
    lake.order("o5", "M", t, 300, paid=t, click=ids["click_bot"], buyer="b9")
    lake.order("o6", "M", t + 2 * DAY, 300, paid=t + 2 * DAY, device="d1")
    return lake, lake.write(), ids


def rows_by_order(table: pa.Table) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        out.setdefault(row["order_id"], []).append(row)
    return out


def test_journeys_follow_the_rules(tmp_path: Path, engine: Engine) -> None:
    _, campaigns, ids = build(tmp_path)
    J.register(engine, tmp_path, campaigns, SCOPE)
    found = rows_by_order(J.journeys(engine, SCOPE))
    assert set(found) == {"o1", "o2", "o3"}
    touch = {v: k for k, v in ids.items()}
    assert [touch[r["touch_id"]] for r in found["o1"]] == [
        "click_b_edge",
        "view_a",
        "click_p",
        "click_a",
    ]
    assert {r["tier"] for r in found["o1"]} == {1} and found["o1"][0]["paid_fen"] == 1_000
    # an hour later the B click has left its 3-day window; the view is exactly 1 day old
    assert [touch[r["touch_id"]] for r in found["o2"]] == [
        "view_a",
        "click_p",
        "click_a",
        "click_a_after",
    ]
    assert {r["tier"] for r in found["o2"]} == {2}
    # b1 is tied to d1 (o1's token click) and to d3 (o1's device id); the view is now too old
    assert [touch[r["touch_id"]] for r in found["o3"]] == [
        "click_d3",
        "click_p",
        "click_a",
        "click_a_after",
    ]
    assert {r["tier"] for r in found["o3"]} == {3}
    conversions = J.conversions(engine, SCOPE)
    assert conversions["order_id"].to_pylist() == ["o1", "o2", "o3", "o5"]
    paths = J.null_paths(engine, SCOPE, "placement_id")
    assert [(r["device_key"], touch[r["touch_id"]]) for r in paths.to_pylist()] == [
        ("d1", "click_b_late"),
        ("d1", "view_a_old"),
        ("d1", "click_x"),
        ("d1", "click_j"),
        ("d9", "stray"),
    ]


def test_credits_on_the_hand_built_lake(tmp_path: Path, engine: Engine) -> None:
    _, campaigns, ids = build(tmp_path)
    J.register(engine, tmp_path, campaigns, SCOPE)
    table = J.journeys(engine, SCOPE)
    models = ("last_click", "first_click", "linear", "position_based", "time_decay", "markov")
    credits = credit(table, models, null_paths=J.null_paths(engine, SCOPE, "placement_id"))
    found = rows_by_order(credits.table)
    o1 = found["o1"]
    assert [r["last_click_fen"] for r in o1] == [0, 0, 0, 1_000]
    assert [r["first_click_fen"] for r in o1] == [1_000, 0, 0, 0]  # the first click, not the view
    assert [r["linear_fen"] for r in o1] == [250, 250, 250, 250]
    assert [r["position_based_fen"] for r in o1] == [400, 100, 100, 400]
    decay = [r["time_decay_fen"] for r in o1]
    assert decay == sorted(decay) and decay[0] < decay[1] < decay[2]
    for rows in found.values():
        for model in models:
            assert sum(r[f"{model}_fen"] for r in rows) == rows[0]["paid_fen"]
    assert ids["click_bot"] not in {r["touch_id"] for r in credits.table.to_pylist()}
    assert set(credits.markov_effects) == {"pl-A", "pl-B", "pl-X", "pl-P", "pl-J"}


def random_lake(root: Path, seed: int) -> pa.Table:
    """A crowded lake: few devices, coarse times (ties), every identity tier, tokens that are
    bots, out of window or on another platform, two merchants and a platform campaign."""
    rng = random.Random(seed)
    lake = Lake(root)
    lake.campaign("A", "M", click_days=2, view_days=1)
    lake.campaign("B", "M", click_days=1, view_days=1)
    lake.campaign("P", "")
    lake.campaign("J", "M", platform="jd")
    devices = [f"d{i}" for i in range(6)]
    clicks = []
    for _ in range(60):
        at = T0 + rng.randrange(0, 72) * HOUR
        campaign, device = rng.choice("ABPJ"), rng.choice(devices)
        if rng.random() < 0.6:
            clicks.append(lake.click(campaign, device, at, bot=rng.random() < 0.1))
        else:
            lake.view(campaign, device, at, duplicate=rng.random() < 0.1)
    for n in range(25):
        placed = T0 + rng.randrange(24, 96) * HOUR
        how = rng.random()
        lake.order(
            f"o{n:02d}",
            rng.choice(["M", "N"]),
            placed,
            rng.randrange(1, 50_000),
            paid=placed,
            click=rng.choice(clicks) if how < 0.5 else None,
            device=rng.choice(devices) if 0.3 < how < 0.8 else None,
            buyer=f"b{rng.randrange(8)}",
        )
    return lake.write()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_engine_picks_what_single_touch_models_credit(
    tmp_path: Path, engine: Engine, seed: int
) -> None:
    campaigns = random_lake(tmp_path, seed)
    scope = J.Scope(dt.date(2024, 11, 10), dt.date(2024, 11, 16), 2)
    J.register(engine, tmp_path, campaigns, scope)
    full = credit(J.journeys(engine, scope), ("last_click", "first_click")).table
    assert full.num_rows > 0
    for model in ("last_click", "first_click"):
        credited = full.filter(pc.greater(full[f"{model}_fen"], 0))
        expected = credited.select(J.JOURNEY.names).sort_by("order_id")
        assert J.journeys(engine, scope, model) == expected, model
