"""The click guard: dedup windows, per-address rate, scripted timing, generation carry-over."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hutong.traffic.guard import HUMAN_GAP_SECONDS, ClickGuard, salt_of

T0 = 1_731_254_400.0  # 2024-11-11 00:00 +08:00
DEV, DEV2 = 0xD1, 0xD2
CODE, OTHER = salt_of("code"), salt_of("other")
IP, IP2 = 1, 2
UA, UA2 = "a" * 16, "b" * 16


def event(now: float, n: int) -> str:
    """An event id as the jump makes them: the time in ms (12 hex), then random hex."""
    return f"{int(now * 1000):012x}{n:020x}"


def test_a_second_click_within_the_window_is_a_duplicate_of_the_first() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=100)
    first = event(T0, 1)
    assert guard.duplicate_of(DEV ^ CODE, first, T0) == ""
    assert guard.duplicate_of(DEV ^ CODE, event(T0 + 59.9, 2), T0 + 59.9) == first
    assert guard.duplicate_of(DEV2 ^ CODE, event(T0 + 1, 3), T0 + 1) == ""  # another device
    assert guard.duplicate_of(DEV ^ OTHER, event(T0 + 1, 4), T0 + 1) == ""  # another link
    fifth = event(T0 + 60, 5)
    assert guard.duplicate_of(DEV ^ CODE, fifth, T0 + 60) == ""  # the window has closed
    assert guard.duplicate_of(DEV ^ CODE, event(T0 + 61, 6), T0 + 61) == fifth


@given(st.lists(st.integers(0, 500_000), min_size=1, max_size=40), st.integers(1, 90))
def test_dedup_matches_a_reference_model(offsets_ms: list[int], window: int) -> None:
    """Whatever the generations do inside, the answer is the exact window rule, in ms."""
    guard = ClickGuard(dedup_seconds=window, rate_per_minute=10**6)
    opened: tuple[str, int] | None = None
    for i, offset in enumerate(sorted(offsets_ms)):
        now_ms = int(T0 * 1000) + offset
        eid = f"{now_ms:012x}{i:020x}"
        expected = opened[0] if opened is not None and now_ms < opened[1] else ""
        assert guard.duplicate_of(DEV ^ CODE, eid, now_ms / 1000) == expected
        if not expected:
            opened = (eid, now_ms + window * 1000)


def test_an_address_over_its_rate_is_flagged_until_the_minute_turns() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=3)
    minute = T0 - T0 % 60
    reasons = [guard.bot_reason(IP, f"{i:016x}", "code", minute + i) for i in range(5)]
    assert reasons == ["", "", "", "rate", "rate"]
    assert guard.bot_reason(IP, UA, "code", minute + 60) == ""
    assert guard.bot_reason(IP2, UA, "code", minute + 5) == ""


def test_an_address_over_its_flood_limit_is_refused_until_the_minute_turns() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=3, flood_per_minute=5)
    minute = T0 - T0 % 60
    reasons = [guard.bot_reason(IP, f"{i:016x}", "code", minute + i) for i in range(7)]
    assert reasons == ["", "", "", "rate", "rate", "flood", "flood"]
    assert guard.bot_reason(IP, UA, "code", minute + 60) == ""


def test_one_device_tapping_two_links_faster_than_a_person_is_flagged() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=100)
    assert guard.bot_reason(IP, UA, "a", T0) == ""
    assert guard.bot_reason(IP, UA, "b", T0 + HUMAN_GAP_SECONDS / 2) == "timing"
    assert guard.bot_reason(IP, UA, "b", T0 + 0.6) == ""  # the same link again is not
    assert guard.bot_reason(IP, UA, "c", T0 + 0.6 + HUMAN_GAP_SECONDS) == ""
    assert guard.bot_reason(IP, UA2, "d", T0 + 1.7) == ""  # another device


def test_rate_counts_survive_a_generation_change() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=2)
    minute = T0 - T0 % 60
    # the visit generations turn every 60 s from the first click (here at +30, +90, ...)
    assert guard.bot_reason(IP, UA, "code", minute + 30) == ""
    assert guard.bot_reason(IP, UA, "code", minute + 61) == ""  # clock minute 1: 1st
    assert guard.bot_reason(IP, UA, "code", minute + 62) == ""  # 2nd
    assert guard.bot_reason(IP, UA, "code", minute + 91) == "rate"  # 3rd, next generation


def test_the_guard_keeps_nothing_the_garbage_collector_must_walk() -> None:
    import gc

    guard = ClickGuard(dedup_seconds=60, rate_per_minute=100)
    for i in range(1000):
        guard.bot_reason(i, UA, "code", T0 + i / 100)
        guard.duplicate_of(i ^ CODE, event(T0, i), T0 + i / 100)
    for generations in (guard._seen, guard._visits):
        for entries in (generations.current, generations.previous):
            assert not gc.is_tracked(entries)


def test_passcode_misses_are_counted_per_key_and_minute() -> None:
    guard = ClickGuard(dedup_seconds=60, rate_per_minute=2)
    minute = T0 - T0 % 60
    assert [guard.over_rate("ip", minute + i) for i in range(3)] == [False, False, True]
    assert guard.over_rate("ip", minute + 60) is False
