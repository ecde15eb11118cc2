"""Link policies evaluated at the moment of a click: may X link to Y from surface S at T, and why.

Pure: the rules come in, a decision goes out. The most specific rule in force wins (a named
target beats "any target", a named surface beats "any"), then the latest ``valid_from``, then
the highest version. With no rule in force a jump is open, because interconnection is the
default the hub exists for; the decision says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

ANY = "any"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DIRECT_MODES = frozenset({"web", "app"})
ALL_MODES = ("web", "app", "passcode", "qr")


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    source: str
    target: str | None
    surface: str
    modes: tuple[str, ...]
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    reason: str = ""
    source_sentence: str = ""
    date_assumed: bool = False

    def in_force(self, at: dt.datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def matches(self, target: str, surface: str) -> bool:
        return (self.target is None or self.target == target) and (
            self.surface == ANY or self.surface == surface
        )

    @property
    def specificity(self) -> int:
        return (2 if self.target is not None else 0) + (1 if self.surface != ANY else 0)


@dataclass(frozen=True)
class Decision:
    allowed: bool  # may the user be sent directly (web link or app scheme)?
    modes: tuple[str, ...]
    rule: Rule | None
    why: str
    considered: tuple[Rule, ...] = field(default=())

    @property
    def version(self) -> int:
        return self.rule.version if self.rule else 0


def _local_day(at: dt.datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


OPEN = Decision(True, ALL_MODES, None, "no rule in force: links are open by default")


def decide(
    rules: list[Rule] | tuple[Rule, ...], source: str, target: str, surface: str, at: dt.datetime
) -> Decision:
    """The decision for one jump; ``rules`` may hold every rule of ``source`` or more."""
    applicable = [r for r in rules if r.source == source and r.matches(target, surface)]
    in_force = [r for r in applicable if r.in_force(at)]
    if not in_force:
        return Decision(OPEN.allowed, OPEN.modes, None, OPEN.why, tuple(applicable))
    best = max(in_force, key=lambda r: (r.specificity, r.valid_from, r.version))
    allowed = bool(DIRECT_MODES.intersection(best.modes))
    verb = "allows" if allowed else "forbids"
    window = f"from {_local_day(best.valid_from)}"
    if best.valid_to is not None:
        window += f" until {_local_day(best.valid_to)}"
    why = f"rule v{best.version} {verb} direct links {window}: {best.reason}".rstrip(": ")
    return Decision(allowed, best.modes, best, why, tuple(applicable))


class PolicyIndex:
    """Rules grouped for the hot path, with each decision memoised for the span of time in
    which no rule starts or ends (so a click usually costs one dict lookup and two compares)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._by_source: dict[str, list[Rule]] = {}
        for rule in rules:
            self._by_source.setdefault(rule.source, []).append(rule)
        self._memo: dict[tuple[str, str, str], tuple[float, float, Decision]] = {}

    def decide(self, source: str, target: str, surface: str, at: dt.datetime) -> Decision:
        return self.decide_ts(source, target, surface, at.timestamp())

    def decide_ts(self, source: str, target: str, surface: str, ts: float) -> Decision:
        key = (source, target, surface)
        memo = self._memo.get(key)
        if memo is not None and memo[0] <= ts < memo[1]:
            return memo[2]
        candidates = [r for r in self._by_source.get(source, ()) if r.matches(target, surface)]
        decision = decide(
            candidates, source, target, surface, dt.datetime.fromtimestamp(ts, dt.UTC)
        )
        bounds = {r.valid_from.timestamp() for r in candidates}
        bounds |= {r.valid_to.timestamp() for r in candidates if r.valid_to is not None}
        lo = max((b for b in bounds if b <= ts), default=float("-inf"))
        hi = min((b for b in bounds if b > ts), default=float("inf"))
        self._memo[key] = (lo, hi, decision)
        return decision
