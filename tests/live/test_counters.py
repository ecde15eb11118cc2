"""Live counters are a function of the set of events: any arrival order, any batching, any
duplicates give the same counters, and they equal a brute-force count of that set."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hutong.live.counters import KIND, MINUTE_MS, Batch, LiveCounters

START = 1_731_240_000_000  # 2024-11-10 20:00 Beijing


class Ev(NamedTuple):
    event_id: int
    kind: str
    ts_ms: int
    viewer: int = 0
    product: int = -1
    order: int = 0
    amount_fen: int = 0


def batch(events: list[Ev]) -> Batch:
    def col(name: str, dtype: type = np.int64) -> Any:
        return np.array([getattr(e, name) for e in events], dtype=dtype)

    return Batch(
        event_id=col("event_id"),
        kind=np.array([KIND[e.kind] for e in events], dtype=np.int8),
        ts_ms=col("ts_ms"),
        viewer=col("viewer"),
        product=col("product"),
        order=col("order"),
        amount_fen=col("amount_fen"),
    )


event = st.builds(
    lambda n, kind, minute, ms, viewer, product, amount: Ev(
        event_id=n,
        kind=kind,
        ts_ms=START + minute * MINUTE_MS + ms,
        viewer=viewer,
        product=product if kind in ("shown", "order", "refund") else -1,
        order=n % 7 if kind in ("order", "refund") else 0,
        amount_fen=amount if kind in ("order", "refund") else 0,
    ),
    st.integers(0, 80),
    st.sampled_from(["enter", "enter", "leave", "leave", "like", "shown", "order", "refund"]),
    st.integers(-1, 6),
    st.integers(0, MINUTE_MS - 1) | st.just(0) | st.just(5),
    st.integers(0, 4),
    st.integers(-1, 2),
    st.integers(0, 50_000),
)


def minute(ts_ms: int) -> int:
    return (ts_ms - START) // MINUTE_MS


def brute(events: list[Ev]) -> dict[str, Any]:
    """The counters of a set of events, counted the slow and obvious way."""
    if not events:
        return {}
    kept: dict[int, Ev] = {}
    for e in sorted((e for e in events if e.kind == "order"), key=lambda e: (e.ts_ms, e.event_id)):
        kept.setdefault(e.order, e)
    counted = [e for e in events if e.kind != "order"] + list(kept.values())
    per_minute: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    products: dict[str, dict[str, Any]] = {}
    field = {"enter": "views", "like": "likes", "shown": "shown", "order": "orders"}
    for e in counted:
        m = minute(e.ts_ms)
        if e.kind in field:
            per_minute[m][field[e.kind]] += 1
        if e.kind == "order":
            per_minute[m]["gmv_fen"] += e.amount_fen
        if e.kind == "refund":
            per_minute[m]["refunds"] += 1
            per_minute[m]["refund_fen"] += e.amount_fen
        if e.product < 0 or e.kind not in ("shown", "order", "refund"):
            continue
        p = products.setdefault(
            str(e.product),
            {"shown": 0, "orders": 0, "gmv_fen": 0, "refunds": 0, "refund_fen": 0},
        )
        p.setdefault("per_minute", {})
        if e.kind == "shown":
            p["shown"] += 1
        elif e.kind == "order":
            p["orders"] += 1
            p["gmv_fen"] += e.amount_fen
            cell = p["per_minute"].setdefault(m, {"orders": 0, "gmv_fen": 0})
            cell["orders"] += 1
            cell["gmv_fen"] += e.amount_fen
        else:
            p["refunds"] += 1
            p["refund_fen"] += e.amount_fen
    presence = sorted(
        (e for e in events if e.kind in ("enter", "leave")),
        key=lambda e: (e.ts_ms, e.kind == "enter"),  # at one millisecond an enter wins
    )
    minutes = [minute(e.ts_ms) for e in events]
    rows = []
    for m in range(min(minutes), max(minutes) + 1):
        state: dict[int, bool] = {}
        for e in presence:
            if e.ts_ms < START + (m + 1) * MINUTE_MS:
                state[e.viewer] = e.kind == "enter"
        names = ("views", "likes", "comments", "shares", "orders", "gmv_fen", "refunds")
        rows.append(
            {"minute": m, "concurrent": sum(state.values())}
            | {name: per_minute[m][name] for name in names}
        )
    final = {e.viewer: e.kind == "enter" for e in presence}
    peak = max(rows, key=lambda r: (r["concurrent"], -r["minute"]))
    total = {
        name: sum(per_minute[m][name] for m in list(per_minute))
        for name in ("views", "likes", "orders", "gmv_fen", "refunds", "refund_fen")
    }
    return {
        "views": total["views"],
        "current_viewers": sum(final.values()),
        "peak_viewers": peak["concurrent"],
        "peak_minute": peak["minute"],
        "likes": total["likes"],
        "comments": 0,
        "shares": 0,
        "orders": total["orders"],
        "gmv_fen": total["gmv_fen"],
        "refunds": total["refunds"],
        "refund_fen": total["refund_fen"],
        "products": dict(
            sorted(
                (k, v)
                for k, v in products.items()
                if any(v[t] for t in ("shown", "orders", "gmv_fen", "refunds", "refund_fen"))
            )
        ),
        "per_minute": rows,
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(event, max_size=80, unique_by=lambda e: e.event_id), st.randoms())
def test_counters_equal_a_brute_force_count_whatever_the_arrival(
    events: list[Ev], rnd: random.Random
) -> None:
    replayed = events + rnd.sample(events, k=len(events) // 2)  # duplicates, late
    rnd.shuffle(replayed)
    counters = LiveCounters(START)
    cut = sorted(rnd.sample(range(len(replayed) + 1), k=min(4, len(replayed) + 1)))
    for a, b in zip([0, *cut], [*cut, len(replayed)], strict=True):
        counters.add(batch(replayed[a:b]))
        if rnd.random() < 0.5:
            counters.snapshot()  # reading between batches changes nothing
    if not events:
        assert counters.concurrent() == {}
        return
    expected = brute(events)
    for p in expected["products"].values():
        p["per_minute"] = dict(sorted(p["per_minute"].items()))
    assert counters.snapshot() == expected


def test_a_late_leave_moves_the_peak_back() -> None:
    counters = LiveCounters(START)
    counters.add(
        batch(
            [
                Ev(1, "enter", START, viewer=1),
                Ev(2, "enter", START + MINUTE_MS, viewer=2),
                Ev(3, "enter", START + 2 * MINUTE_MS, viewer=3),
            ]
        )
    )
    assert counters.snapshot()["peak_viewers"] == 3 and counters.current == 3
    counters.add(batch([Ev(4, "leave", START + MINUTE_MS + 5, viewer=1)]))  # arrives late
    snap = counters.snapshot()
    assert [r["concurrent"] for r in snap["per_minute"]] == [1, 1, 2]
    assert (snap["peak_viewers"], snap["peak_minute"], snap["current_viewers"]) == (2, 2, 2)


def test_a_later_report_of_an_order_never_counts_it_twice() -> None:
    counters = LiveCounters(START)
    counters.add(batch([Ev(9, "order", START + 70_000, product=0, order=5, amount_fen=100)]))
    counters.add(batch([Ev(4, "order", START + 10_000, product=1, order=5, amount_fen=120)]))
    counters.add(batch([Ev(6, "order", START + 90_000, product=0, order=5, amount_fen=100)]))
    snap = counters.snapshot(["p0", "p1"])
    assert (snap["orders"], snap["gmv_fen"]) == (1, 120)  # the earliest report counts
    assert list(snap["products"]) == ["p1"]
    tie = START + 10_000  # the same millisecond: the smaller event id counts
    counters.add(batch([Ev(3, "order", tie, product=0, order=5, amount_fen=130)]))
    counters.add(batch([Ev(2, "order", tie, product=1, order=5, amount_fen=140)]))
    assert counters.snapshot()["gmv_fen"] == 140


def test_bad_columns_are_refused() -> None:
    counters = LiveCounters(START)
    bad = batch([Ev(1, "order", START, order=1, amount_fen=-5)])
    with pytest.raises(ValueError, match="not negative"):
        counters.add(bad)
    with pytest.raises(ValueError, match="99 days"):
        counters.add(batch([Ev(2, "like", START + 200 * 86_400_000)]))
