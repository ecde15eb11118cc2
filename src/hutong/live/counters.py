"""A live session's counters, fed batches of platform events in any order, duplicates
included, and always the same answer for the same set of events.

- An event is applied once: by its platform event id, and an order once by its order ref
  (a platform that reports an order twice under two event ids still sold one; the earliest
  report counts, and a late earlier one replaces it).
- Additive counts (views = entries, likes, comments, shares, products shown, orders, GMV,
  refunds) are kept per minute since the session's start and per product; they do not
  depend on arrival order.
- Concurrent viewers are not additive: a viewer is present at a moment when its latest enter
  or leave at or before that moment is an enter (events at the same millisecond are ordered by
  event id). ``concurrent[m]`` counts the viewers present at the end of minute ``m``; the peak
  is the largest of those (per-minute resolution), and ``current`` the count after every event
  seen. A late event rewrites only its viewer's part of the timeline, so out-of-order arrival
  changes nothing once all events are in.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("enter", "leave", "like", "comment", "share", "shown", "order", "refund")
COUNTED = {
    "like": "likes",
    "comment": "comments",
    "share": "shares",
    "shown": "shown",
    "order": "orders",
    "refund": "refunds",
}
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    ts_ms: int
    viewer: str = ""
    product_ref: str = ""
    order_ref: str = ""
    amount_fen: int = 0

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Event:
        kind = str(raw["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}; one of {', '.join(KINDS)}")
        event = cls(
            event_id=str(raw["event_id"]),
            kind=kind,
            ts_ms=int(raw["ts_ms"]),
            viewer=str(raw.get("viewer") or ""),
            product_ref=str(raw.get("product_ref") or ""),
            order_ref=str(raw.get("order_ref") or ""),
            amount_fen=int(raw.get("amount_fen") or 0),
        )
        if kind in ("enter", "leave") and not event.viewer:
            raise ValueError(f"a {kind} event names its viewer")
        if kind in ("order", "refund") and (not event.order_ref or event.amount_fen < 0):
            raise ValueError(f"a {kind} event names its order and a non-negative amount")
        return event


@dataclass
class ProductTotals:
    shown: int = 0
    orders: int = 0
    gmv_fen: int = 0
    refunds: int = 0
    refund_fen: int = 0


@dataclass
class Counters:
    start_ms: int
    seen: set[str] = field(default_factory=set)
    orders_seen: dict[str, Event] = field(default_factory=dict)
    first_minute: int | None = None
    last_minute: int | None = None
    per_minute: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    products: dict[str, ProductTotals] = field(default_factory=lambda: defaultdict(ProductTotals))
    product_minutes: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    presence: dict[str, list[tuple[int, str, bool]]] = field(default_factory=dict)
    present_diff: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    current: int = 0

    def minute(self, ts_ms: int) -> int:
        return (ts_ms - self.start_ms) // MINUTE_MS

    def add(self, events: Iterable[Event]) -> int:
        """Apply the events not seen before; how many were new. Of several events reporting
        one order, the earliest (then the smallest event id) counts, whatever came first."""
        applied = 0
        for event in events:
            if event.event_id in self.seen:
                continue
            self.seen.add(event.event_id)
            m = self.minute(event.ts_ms)
            self.first_minute = m if self.first_minute is None else min(self.first_minute, m)
            self.last_minute = m if self.last_minute is None else max(self.last_minute, m)
            if event.kind == "order":
                kept = self.orders_seen.get(event.order_ref)
                if kept is not None:
                    if (kept.ts_ms, kept.event_id) <= (event.ts_ms, event.event_id):
                        continue
                    self._apply(kept, -1)
                self.orders_seen[event.order_ref] = event
            self._apply(event, +1)
            applied += 1
        return applied

    def _bump(self, name: str, minute: int, by: int = 1) -> None:
        bucket = self.per_minute[name]
        bucket[minute] = bucket.get(minute, 0) + by
        if bucket[minute] == 0:
            del bucket[minute]

    def _apply(self, e: Event, sign: int) -> None:
        m = self.minute(e.ts_ms)
        if e.kind in ("enter", "leave"):
            if e.kind == "enter":
                self._bump("views", m)
            self._presence(e, m)
            return
        self._bump(COUNTED[e.kind], m, sign)
        if not e.product_ref and e.kind not in ("order", "refund"):
            return
        totals = self.products[e.product_ref] if e.product_ref else None
        if e.kind == "shown" and totals is not None:
            totals.shown += sign
        elif e.kind == "order":
            self._bump("gmv_fen", m, sign * e.amount_fen)
            if totals is not None:
                totals.orders += sign
                totals.gmv_fen += sign * e.amount_fen
                cell = self.product_minutes.setdefault((e.product_ref, m), [0, 0])
                cell[0] += sign
                cell[1] += sign * e.amount_fen
                if cell == [0, 0]:
                    del self.product_minutes[(e.product_ref, m)]
                if totals == ProductTotals():
                    del self.products[e.product_ref]
        elif e.kind == "refund":
            self._bump("refund_fen", m, sign * e.amount_fen)
            if totals is not None:
                totals.refunds += sign
                totals.refund_fen += sign * e.amount_fen

    # -- concurrency -------------------------------------------------------------------------
    def _intervals(self, history: list[tuple[int, str, bool]]) -> list[tuple[int, int | None]]:
        """Minutes ``[a, b)`` at whose end the viewer is present (``b`` None: still present)."""
        out: list[tuple[int, int | None]] = []
        last_state_at: list[tuple[int, bool]] = []
        for ts, _, enter in history:  # the state at the end of each minute with events
            m = self.minute(ts)
            if last_state_at and last_state_at[-1][0] == m:
                last_state_at[-1] = (m, enter)
            else:
                last_state_at.append((m, enter))
        for i, (m, enter) in enumerate(last_state_at):
            if not enter:
                continue
            end = last_state_at[i + 1][0] if i + 1 < len(last_state_at) else None
            out.append((m, end))
        return out

    def _shift(self, intervals: list[tuple[int, int | None]], sign: int) -> None:
        for start, end in intervals:
            self.present_diff[start] += sign
            if end is not None:
                self.present_diff[end] -= sign

    def _presence(self, e: Event, m: int) -> None:
        history = self.presence.setdefault(e.viewer, [])
        was_present = bool(history) and history[-1][2]
        self._shift(self._intervals(history), -1)
        bisect.insort(history, (e.ts_ms, e.event_id, e.kind == "enter"))
        self._shift(self._intervals(history), +1)
        now_present = history[-1][2]
        self.current += int(now_present) - int(was_present)

    def concurrent(self) -> dict[int, int]:
        """Viewers present at the end of each minute from the first event's to the last's."""
        if self.first_minute is None or self.last_minute is None:
            return {}
        running, out = 0, {}
        for m in range(self.first_minute, self.last_minute + 1):
            running += self.present_diff.get(m, 0)
            out[m] = running
        return out

    def snapshot(self) -> dict[str, Any]:
        series = self.concurrent()
        peak_minute = max(series, key=lambda m: (series[m], -m)) if series else None
        totals = {name: sum(bucket.values()) for name, bucket in self.per_minute.items()}
        minutes = []
        for m, present in series.items():
            row: dict[str, int] = {"minute": m, "concurrent": present}
            for name in ("views", "likes", "comments", "shares", "orders", "gmv_fen", "refunds"):
                row[name] = self.per_minute.get(name, {}).get(m, 0)
            minutes.append(row)
        return {
            "views": totals.get("views", 0),
            "current_viewers": self.current,
            "peak_viewers": series[peak_minute] if peak_minute is not None else 0,
            "peak_minute": peak_minute,
            "likes": totals.get("likes", 0),
            "comments": totals.get("comments", 0),
            "shares": totals.get("shares", 0),
            "orders": totals.get("orders", 0),
            "gmv_fen": totals.get("gmv_fen", 0),
            "refunds": totals.get("refunds", 0),
            "refund_fen": totals.get("refund_fen", 0),
            "products": {
                ref: vars(t)
                | {
                    "per_minute": {
                        m: {"orders": c[0], "gmv_fen": c[1]}
                        for (p, m), c in sorted(self.product_minutes.items())
                        if p == ref
                    }
                }
                for ref, t in sorted(self.products.items())
            },
            "per_minute": minutes,
        }
