"""The article's link-policy history, evaluated at the moments it describes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hutong.traffic.policy import PolicyIndex, Rule, decide

SEED = Path(__file__).resolve().parents[2] / "src" / "hutong" / "seed" / "policies.json"


def seeded_rules() -> list[Rule]:
    items = json.loads(SEED.read_text(encoding="utf-8"))["policies"]
    return [
        Rule(
            id=item["key"],
            version=i + 1,
            source=item["source"],
            target=item["target"],
            surface=item["surface"],
            modes=tuple(item["modes"]),
            valid_from=dt.datetime.fromisoformat(item["valid_from"]),
            valid_to=dt.datetime.fromisoformat(item["valid_to"]) if item["valid_to"] else None,
            reason=item["reason"],
            source_sentence=item["source_sentence"],
        )
        for i, item in enumerate(items)
    ]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text + "+08:00")


@pytest.mark.parametrize(
    ("source", "target", "surface", "when", "allowed", "rule"),
    [
        ("douyin", "taobao", "live_room", "2020-09-30T23:59", True, None),
        ("douyin", "taobao", "live_room", "2020-10-01T00:00", False, "douyin-live-third-party"),
        ("douyin", "jd", "live_room", "2024-11-11T20:00", False, "douyin-live-third-party"),
        ("douyin", "taobao", "splash", "2024-11-11T00:00", True, "douyin-splash-tmall-double11"),
        ("douyin", "taobao", "splash", "2024-11-12T00:00", True, None),  # season over: no rule
        ("douyin", "taobao", "feed", "2024-11-11T00:00", True, None),
        ("kuaishou", "youzan", "feed", "2021-10-31T23:59", True, None),
        ("kuaishou", "youzan", "feed", "2021-11-01T00:00", False, "kuaishou-cut-youzan"),
        ("kuaishou", "youzan", "search", "2024-11-11T00:00", False, "kuaishou-cut-youzan"),
        ("kuaishou", "taobao", "feed", "2022-02-28T12:00", True, None),
        ("kuaishou", "taobao", "feed", "2022-03-15T12:00", False, "kuaishou-cut-taobao"),
        ("kuaishou", "jd", "live_room", "2022-05-01T12:00", False, "kuaishou-cut-jd"),
        ("kuaishou", "jd", "live_room", "2022-09-01T00:00", True, "kuaishou-resume-jd"),
        ("kuaishou", "taobao", "splash", "2024-11-11T00:00", True, "kuaishou-resume-taobao"),
        ("kuaishou", "pinduoduo", "feed", "2022-05-01T12:00", True, None),
        ("bilibili", "taobao", "feed", "2023-11-01T20:00", True, "bilibili-taobao-live-card"),
        ("bilibili", "jd", "feed", "2024-11-01T20:00", True, "bilibili-jd-jinghuo"),
    ],
)
def test_article_history(
    source: str, target: str, surface: str, when: str, allowed: bool, rule: str | None
) -> None:
    decision = decide(seeded_rules(), source, target, surface, at(when))
    assert decision.allowed is allowed
    assert (decision.rule.id if decision.rule else None) == rule
    if rule is not None:
        assert decision.rule is not None and decision.rule.source_sentence
        assert f"v{decision.version}" in decision.why
    if not allowed:
        assert set(decision.modes) == {"passcode", "qr"}


def test_specific_rule_beats_general_and_later_beats_earlier() -> None:
    t0 = at("2024-01-01T00:00")
    general = Rule("g", 1, "douyin", None, "any", ("passcode",), t0, None)
    specific = Rule("s", 2, "douyin", "taobao", "splash", ("web",), t0, None)
    later = Rule("l", 3, "douyin", "taobao", "splash", ("qr",), at("2024-06-01T00:00"), None)
    rules = [general, specific, later]
    assert decide(rules, "douyin", "taobao", "splash", at("2024-03-01T00:00")).rule is specific
    assert decide(rules, "douyin", "taobao", "splash", at("2024-07-01T00:00")).rule is later
    assert decide(rules, "douyin", "jd", "feed", at("2024-07-01T00:00")).rule is general


times = st.datetimes(
    min_value=dt.datetime(2019, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=dt.datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


@given(
    st.sampled_from(["douyin", "kuaishou", "bilibili", "xiaohongshu"]),
    st.sampled_from(["taobao", "jd", "pinduoduo", "youzan"]),
    st.sampled_from(["splash", "feed", "live_room", "search"]),
    st.lists(times, min_size=1, max_size=20),
)
def test_memoised_index_agrees_with_plain_evaluation(
    source: str, target: str, surface: str, moments: list[dt.datetime]
) -> None:
    rules = seeded_rules()
    index = PolicyIndex(rules)
    for moment in moments:
        fast = index.decide_ts(source, target, surface, moment.timestamp())
        slow = decide(rules, source, target, surface, moment)
        assert (fast.allowed, fast.modes, fast.version) == (slow.allowed, slow.modes, slow.version)
