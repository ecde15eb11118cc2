"""Live counters are a function of the set of events: any arrival order, any batching, any
duplicates give the same counters; concurrency matches a brute-force count per minute."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hutong.live.counters import MINUTE_MS, Counters, Event

START = 1_731_240_000_000  # 2024-11-10 20:00 Beijing

event = st.builds(
    lambda n, kind, minute, ms, viewer, product, amount: Event(
        event_id=f"e{n}",
        kind=kind,
        ts_ms=START + minute * MINUTE_MS + ms,
        viewer=f"v{viewer}",
        product_ref=f"p{product}" if kind in ("shown", "order", "refund") else "",
        order_ref=f"o{n % 7}" if kind in ("order", "refund") else "",
        amount_fen=amount if kind in ("order", "refund") else 0,
    ),
    st.integers(0, 60),
    st.sampled_from(["enter", "enter", "leave", "leave", "like", "shown", "order", "refund"]),
    st.integers(-1, 6),
    st.integers(0, MINUTE_MS - 1) | st.just(0),
    st.integers(0, 4),
    st.integers(0, 2),
    st.integers(0, 50_000),
)


def brute_concurrency(events: list[Event]) -> tuple[dict[int, int], int]:
    presence = sorted(
        {e.event_id: e for e in events if e.kind in ("enter", "leave")}.values(),
        key=lambda e: (e.ts_ms, e.event_id),
    )
    if not events:
        return {}, 0
    counters = Counters(START)
    minutes = [counters.minute(e.ts_ms) for e in events]
    series = {}
    for m in range(min(minutes), max(minutes) + 1):
        end = START + (m + 1) * MINUTE_MS
        state: dict[str, bool] = {}
        for e in presence:
            if e.ts_ms < end:
                state[e.viewer] = e.kind == "enter"
        series[m] = sum(state.values())
    final: dict[str, bool] = {}
    for e in presence:
        final[e.viewer] = e.kind == "enter"
    return series, sum(final.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(event, max_size=60, unique_by=lambda e: e.event_id), st.randoms())
def test_counters_depend_on_the_set_of_events_only(events: list[Event], rnd: random.Random) -> None:
    once = Counters(START)
    once.add(events)
    replayed = events + rnd.sample(events, k=len(events) // 2)  # duplicates, late
    rnd.shuffle(replayed)
    batched = Counters(START)
    cut = sorted(rnd.sample(range(len(replayed) + 1), k=min(3, len(replayed) + 1)))
    for a, b in zip([0, *cut], [*cut, len(replayed)], strict=True):
        batched.add(replayed[a:b])
    assert batched.snapshot() == once.snapshot()

    series, current = brute_concurrency(events)
    assert once.concurrent() == series
    assert once.current == current
    snap = once.snapshot()
    assert snap["views"] == sum(e.kind == "enter" for e in events)
    firsts = {}
    for e in events:
        if e.kind == "order":
            firsts.setdefault(e.order_ref, e)
    assert snap["orders"] == len(firsts)  # one order per order ref, whatever reported it twice


def test_a_late_leave_moves_the_peak_back() -> None:
    counters = Counters(START)
    counters.add(
        [
            Event("a1", "enter", START, viewer="a"),
            Event("b1", "enter", START + MINUTE_MS, viewer="b"),
            Event("c1", "enter", START + 2 * MINUTE_MS, viewer="c"),
        ]
    )
    assert counters.snapshot()["peak_viewers"] == 3 and counters.current == 3
    counters.add([Event("a2", "leave", START + MINUTE_MS + 5, viewer="a")])  # arrives late
    snap = counters.snapshot()
    assert [r["concurrent"] for r in snap["per_minute"]] == [1, 1, 2]
    assert (snap["peak_viewers"], snap["peak_minute"], snap["current_viewers"]) == (2, 2, 2)
