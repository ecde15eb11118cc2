"""A live session's counters, fed columnar batches of platform events in any order, duplicates
included, and always the same answer for the same set of events.

- An event is applied once, by its event id (a re-sent event repeats its fields, its time
  included: ids are remembered per minute of the event's time). An order is
  counted once by its order ref: of several reports, the earliest (then the smallest event id)
  counts, whatever arrived first; a late earlier report replaces the kept one.
- Additive counts (views = entries, likes, comments, shares, products shown, orders, GMV,
  refunds) are kept per minute since the session's start and per product.
- Concurrent viewers are not additive: a viewer is present at a moment when its latest enter
  or leave at or before it is an enter; at one millisecond an enter wins (a reconnect).
  ``concurrent[m]`` counts the viewers present at the end of minute ``m``, the peak is the
  largest (per-minute resolution, the earliest minute on a tie) and ``current`` counts the
  viewers whose latest event is an enter.

Why it is fast: a batch is handled as arrays. Event ids, viewers and orders are looked up in
vectorised hash tables (``inttable``); a viewer's enters and leaves are packed into one int64
(viewer, time, state) so that one ``np.sort`` orders them. While each viewer's events arrive
in time order, the change of its presence is added to a per-minute difference array as they
come (state minus the previous state, at the event's minute: intermediate events of a minute
cancel). A viewer event older than that viewer's latest rewrites only that viewer: its earlier
events are found in the packed log (kept as a few sorted runs), and the series loses what they
contributed and gains what they contribute with the late event. Reading is therefore never
more than a cumulative sum over the minutes.

Money is summed in int64 with ``np.add.at``, never through floating point.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from hutong.live.inttable import I64, IntTable, grown

KINDS = ("enter", "leave", "like", "comment", "share", "shown", "order", "refund")
KIND = {name: np.int8(i) for i, name in enumerate(KINDS)}
MINUTE_MS = 60_000
SERIES = (
    "views",
    "likes",
    "comments",
    "shares",
    "shown",
    "orders",
    "gmv_fen",
    "refunds",
    "refund_fen",
    "present",
)
ROW = {name: i for i, name in enumerate(SERIES)}
SIMPLE = {"like": "likes", "comment": "comments", "share": "shares", "shown": "shown"}
PRODUCT = ("shown", "orders", "gmv_fen", "refunds", "refund_fen")
SPAN_MS = 1 << 33  # events may lie this far (about 99 days) either side of the start
_TS_BITS = 34
_VIEWER_SHIFT = _TS_BITS + 1
MAX_VIEWERS = 1 << (63 - _VIEWER_SHIFT)
_STAMP_MASK = (1 << _VIEWER_SHIFT) - 1


@dataclass
class Batch:
    """Events as columns. ``product`` is an index into the session's shelf (-1: none);
    ``order`` and ``amount_fen`` are read for orders and refunds only."""

    event_id: I64
    kind: npt.NDArray[np.int8]
    ts_ms: I64
    viewer: I64
    product: I64
    order: I64
    amount_fen: I64

    def __len__(self) -> int:
        return int(self.event_id.shape[0])

    def take(self, rows: I64) -> Batch:
        return Batch(*(np.take(getattr(self, f.name), rows) for f in fields(self)))

    def check(self) -> None:
        n = len(self)
        if any(getattr(self, f.name).shape != (n,) for f in fields(self)):
            raise ValueError("every column of a batch has one value per event")
        if n and (self.kind.min() < 0 or self.kind.max() >= len(KINDS)):
            raise ValueError(f"an event kind is one of {', '.join(KINDS)}")
        money = (self.kind == KIND["order"]) | (self.kind == KIND["refund"])
        if (self.amount_fen[money] < 0).any():
            raise ValueError("an order or refund amount is not negative")


class SeenEvents:
    """The event ids applied, kept per minute of the event's time in sorted arrays: a re-sent
    event repeats its time, so a batch (which covers a few minutes) looks only into those
    minutes' ids, which stay small enough for the cache. Each minute keeps a large run and a
    small recent one, merged when the recent one outgrows a quarter of the large."""

    def __init__(self) -> None:
        self._runs: dict[int, list[I64]] = {}

    def fresh(self, minutes: I64, ids: I64) -> npt.NDArray[np.bool_]:
        """Which rows carry an id not seen before (of repeats within the batch, one)."""
        out = np.zeros(ids.shape[0], dtype=bool)
        low = int(minutes.min())
        if int(minutes.max()) - low < 1 << 15:
            order = np.argsort((minutes - low).astype(np.int16), kind="stable")  # radix
        else:
            order = np.argsort(minutes, kind="stable")
        ordered = minutes[order]
        cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        for rows in np.split(order, cuts):
            out[rows] = self._fresh_in_minute(int(minutes[rows[0]]), ids[rows])
        return out

    def _fresh_in_minute(self, minute: int, ids: I64) -> npt.NDArray[np.bool_]:
        runs = self._runs.setdefault(minute, [])
        order = np.argsort(ids)
        ordered = ids[order]
        keep = np.ones(ids.shape[0], dtype=bool)
        keep[1:] = ordered[1:] != ordered[:-1]
        for run in runs:
            at = np.searchsorted(run, ordered)
            keep &= np.take(run, np.minimum(at, run.shape[0] - 1)) != ordered
        new = ordered[keep]
        if new.size:
            if len(runs) < 2:
                runs.append(new)
            else:
                runs[1] = np.sort(np.concatenate([runs[1], new]))
            if len(runs) == 2 and runs[1].shape[0] * 4 > runs[0].shape[0]:
                runs[:] = [np.sort(np.concatenate(runs))]
        out = np.zeros(ids.shape[0], dtype=bool)
        out[order[keep]] = True
        return out


class LiveCounters:
    def __init__(self, start_ms: int) -> None:
        self.start_ms = start_ms
        self.current = 0
        self._seen = SeenEvents()
        self._viewers = IntTable()
        self._stamp: I64 = np.empty(0, dtype=np.int64)  # viewer's latest (time << 1 | enter)
        self._orders = IntTable()
        self._kept: I64 = np.empty((0, 4), dtype=np.int64)  # per order: ts, event id, product, fen
        self._origin = 0  # the minute of column 0
        self._series: I64 = np.zeros((len(SERIES), 0), dtype=np.int64)
        self._products: I64 = np.zeros((len(PRODUCT), 0), dtype=np.int64)
        self._product_minutes: I64 = np.zeros((2, 0, 0), dtype=np.int64)  # orders, GMV
        self._presence: list[I64] = []  # packed (viewer, time, enter): sorted runs
        self.first_minute: int | None = None
        self.last_minute: int | None = None

    # -- intake ----------------------------------------------------------------------------
    def add(self, batch: Batch) -> int:
        """Apply the events not seen before; how many were new."""
        batch.check()
        if len(batch) == 0:
            return 0
        low, high = self.start_ms - SPAN_MS, self.start_ms + SPAN_MS
        if batch.ts_ms.min() < low or batch.ts_ms.max() >= high:
            raise ValueError("an event lies more than 99 days from the session's start")
        minutes = (batch.ts_ms - self.start_ms) // MINUTE_MS
        fresh = self._seen.fresh(minutes, batch.event_id)
        if not fresh.any():
            return 0
        batch, minutes = batch.take(np.flatnonzero(fresh)), minutes[fresh]
        self._cover(int(minutes.min()), int(minutes.max()), int(batch.product.max()) + 1)
        order = np.argsort(batch.kind, kind="stable")
        bounds = np.searchsorted(batch.kind[order], np.arange(len(KINDS) + 1))
        rows = {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(KINDS)}
        for kind, series in SIMPLE.items():
            self._count(series, np.take(minutes, rows[kind]))
        shown = np.take(batch.product, rows["shown"])
        self._per_product("shown", shown, np.ones_like(shown))
        self._add_refunds(batch.take(rows["refund"]), np.take(minutes, rows["refund"]))
        self._add_orders(batch.take(rows["order"]))
        presence = np.concatenate([rows["enter"], rows["leave"]])
        self._add_presence(batch.take(presence))
        return len(batch)

    def _cover(self, low: int, high: int, products: int) -> None:
        """Grow the minute columns to hold ``low..high`` and the product rows to ``products``."""
        self.first_minute = low if self.first_minute is None else min(self.first_minute, low)
        self.last_minute = high if self.last_minute is None else max(self.last_minute, high)
        width = self._series.shape[1]
        if width == 0:
            self._origin = low
        start = min(self._origin, low)
        end = max(self._origin + width, high + 1)
        if end - start > width:  # with slack, so that a running session grows rarely
            end = max(end, start + 2 * width)
        shift = self._origin - start
        n_products = max(self._products.shape[1], products)
        if (start, end) != (self._origin, self._origin + width) or n_products > (
            self._products.shape[1]
        ):
            series = np.zeros((len(SERIES), end - start), dtype=np.int64)
            series[:, shift : shift + width] = self._series
            cells = np.zeros((2, n_products, end - start), dtype=np.int64)
            old = self._product_minutes
            cells[:, : old.shape[1], shift : shift + width] = old
            totals = np.zeros((len(PRODUCT), n_products), dtype=np.int64)
            totals[:, : self._products.shape[1]] = self._products
            self._series, self._product_minutes, self._products = series, cells, totals
            self._origin = start

    def _count(
        self, series: str, minutes: I64, sign: I64 | None = None, *, negate: bool = False
    ) -> None:
        if minutes.size == 0:
            return
        width = self._series.shape[1]
        column = minutes - self._origin
        row = self._series[ROW[series]]
        if sign is None:
            row += np.bincount(column, minlength=width)
            return
        up, down = (
            np.bincount(column[sign > 0], minlength=width),
            np.bincount(column[sign < 0], minlength=width),
        )
        row += (down - up) if negate else (up - down)

    def _sum(self, series: str, minutes: I64, amounts: I64) -> None:
        np.add.at(self._series[ROW[series]], minutes - self._origin, amounts)

    def _per_product(self, total: str, products: I64, amounts: I64) -> None:
        named = products >= 0
        np.add.at(self._products[PRODUCT.index(total)], products[named], amounts[named])

    def _add_refunds(self, refunds: Batch, minutes: I64) -> None:
        self._count("refunds", minutes)
        self._sum("refund_fen", minutes, refunds.amount_fen)
        self._per_product("refunds", refunds.product, np.ones_like(refunds.product))
        self._per_product("refund_fen", refunds.product, refunds.amount_fen)

    def _add_orders(self, orders: Batch) -> None:
        """Keep, per order ref, the earliest report (then the smallest event id)."""
        if len(orders) == 0:
            return
        ranked = orders.take(np.lexsort((orders.event_id, orders.ts_ms, orders.order)))
        first = np.ones(len(ranked), dtype=bool)
        first[1:] = ranked.order[1:] != ranked.order[:-1]
        best = ranked.take(np.flatnonzero(first))
        index, added = self._orders.insert(best.order)
        self._kept = grown(self._kept, self._orders.size)  # type: ignore[assignment]
        kept = self._kept[index].T
        earlier = ~added & (
            (best.ts_ms < kept[0]) | ((best.ts_ms == kept[0]) & (best.event_id < kept[1]))
        )
        replaced = np.flatnonzero(earlier)
        if replaced.size:
            self._order_effect(kept[0][replaced], kept[2][replaced], kept[3][replaced], -1)
        chosen = np.flatnonzero(added | earlier)
        cols = np.stack([best.ts_ms, best.event_id, best.product, best.amount_fen])[:, chosen]
        self._kept[index[chosen]] = cols.T
        self._order_effect(cols[0], cols[2], cols[3], +1)

    def _order_effect(self, ts_ms: I64, products: I64, amounts: I64, sign: int) -> None:
        minutes = (ts_ms - self.start_ms) // MINUTE_MS
        self._count("orders", minutes, np.full_like(minutes, sign))
        self._sum("gmv_fen", minutes, sign * amounts)
        self._per_product("orders", products, np.full_like(products, sign))
        self._per_product("gmv_fen", products, sign * amounts)
        named = products >= 0
        cells = (products[named], minutes[named] - self._origin)
        np.add.at(self._product_minutes[0], cells, sign)
        np.add.at(self._product_minutes[1], cells, sign * amounts[named])

    def _add_presence(self, events: Batch) -> None:
        if len(events) == 0:
            return
        viewers, _ = self._viewers.insert(events.viewer)
        if self._viewers.size > MAX_VIEWERS:
            raise ValueError(f"a session holds at most {MAX_VIEWERS} viewers")
        self._stamp = grown(self._stamp, self._viewers.size, fill=-1)  # type: ignore[assignment]
        enter = (events.kind == KIND["enter"]).astype(np.int64)
        offset = events.ts_ms - (self.start_ms - SPAN_MS)
        packed = np.sort((viewers << _VIEWER_SHIFT) | (offset << 1) | enter)
        viewer, stamp, state, minutes = self._unpack(packed)
        self._count("views", minutes[state == 1])
        first = np.ones(packed.shape[0], dtype=bool)
        first[1:] = viewer[1:] != viewer[:-1]
        heads = np.flatnonzero(first)
        stored = self._stamp[viewer[heads]]
        stored_state = np.where(stored >= 0, stored & 1, 0)
        late = stamp[heads] < stored  # the viewer has a later event already
        group = np.cumsum(first) - 1
        in_order = ~late[group]
        previous = np.empty_like(state)
        previous[1:] = state[:-1]
        previous[heads] = stored_state
        self._count("present", minutes[in_order], (state - previous)[in_order])
        if late.any():
            self._rewrite_late(viewer[heads[late]], packed[~in_order])
        self._presence.append(packed)
        self._merge_presence_runs()
        tails = np.append(heads[1:] - 1, packed.shape[0] - 1)
        latest = np.maximum(stamp[tails], stored)
        self._stamp[viewer[heads]] = latest
        self.current += int((latest & 1).sum() - stored_state.sum())

    def _rewrite_late(self, viewers: I64, late: I64) -> None:
        """Replace the presence of viewers that received an event older than their latest:
        their earlier events are found in the sorted runs, and the series loses what they
        contributed and gains what they contribute now."""
        before = [run[_ranges(run, viewers)] for run in self._presence]
        history = np.sort(np.concatenate(before)) if before else np.empty(0, dtype=np.int64)
        self._count("present", *self._presence_changes(history), negate=True)
        self._count("present", *self._presence_changes(np.sort(np.concatenate([history, late]))))

    def _presence_changes(self, packed: I64) -> tuple[I64, I64]:
        """The minute and change (+1 in, -1 out, 0) of each of these sorted viewer events."""
        viewer, _, state, minutes = self._unpack(packed)
        previous = np.zeros_like(state)
        same = np.flatnonzero(viewer[1:] == viewer[:-1]) + 1
        previous[same] = state[same - 1]
        return minutes, state - previous

    def _merge_presence_runs(self) -> None:
        """Keep the sorted runs few: a run is merged into the one before while at least half
        its size, so there are O(log n) runs and each event is re-sorted O(log n) times."""
        runs = self._presence
        while len(runs) >= 2 and 2 * runs[-1].shape[0] >= runs[-2].shape[0]:
            last = runs.pop()
            runs[-1] = np.sort(np.concatenate([runs[-1], last]))

    def _unpack(self, packed: I64) -> tuple[I64, I64, I64, I64]:
        stamp = packed & _STAMP_MASK
        ts_ms = (stamp >> 1) + (self.start_ms - SPAN_MS)
        return packed >> _VIEWER_SHIFT, stamp, stamp & 1, (ts_ms - self.start_ms) // MINUTE_MS

    # -- reading ---------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        return {name: int(self._series[i].sum()) for i, name in enumerate(SERIES[:-1])}

    def concurrent(self) -> dict[int, int]:
        """Viewers present at the end of each minute from the first event's to the last's."""
        if self.first_minute is None or self.last_minute is None:
            return {}
        running = np.cumsum(self._series[ROW["present"]])
        lo, hi = self.first_minute - self._origin, self.last_minute - self._origin
        return {m + self._origin: int(running[m]) for m in range(lo, hi + 1)}

    def snapshot(self, shelf: list[str] | None = None) -> dict[str, Any]:
        """Everything counted, the products named by ``shelf`` (index → product ref)."""
        series = self.concurrent()
        peak_minute = max(series, key=lambda m: (series[m], -m)) if series else None
        totals = self.totals()
        minutes = []
        names = ("views", "likes", "comments", "shares", "orders", "gmv_fen", "refunds")
        for m, present in series.items():
            column = self._series[:, m - self._origin]
            row = {"minute": m, "concurrent": present}
            minutes.append(row | {name: int(column[ROW[name]]) for name in names})
        return {
            "views": totals["views"],
            "current_viewers": self.current,
            "peak_viewers": series[peak_minute] if peak_minute is not None else 0,
            "peak_minute": peak_minute,
            **{name: totals[name] for name in SERIES[1:-1] if name != "shown"},
            "products": self._product_snapshot(shelf),
            "per_minute": minutes,
        }

    def _product_snapshot(self, shelf: list[str] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in np.flatnonzero(self._products.any(axis=0)):
            name = shelf[p] if shelf is not None and p < len(shelf) else str(p)
            cells = np.flatnonzero(self._product_minutes[0, p] | self._product_minutes[1, p])
            out[name] = {total: int(self._products[i, p]) for i, total in enumerate(PRODUCT)} | {
                "per_minute": {
                    int(c) + self._origin: {
                        "orders": int(self._product_minutes[0, p, c]),
                        "gmv_fen": int(self._product_minutes[1, p, c]),
                    }
                    for c in cells
                }
            }
        return dict(sorted(out.items()))


def _ranges(run: I64, viewers: I64) -> I64:
    """The positions in a sorted run of packed events of these viewers."""
    starts = np.searchsorted(run, viewers << _VIEWER_SHIFT)
    ends = np.searchsorted(run, (viewers + 1) << _VIEWER_SHIFT)
    lengths = ends - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(int(lengths.sum()))
