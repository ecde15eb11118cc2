"""A replayed live session as columnar batches, one per minute of the session, in the shape
a platform's event feed has: viewers enter and leave (visits of about ten minutes), like,
and buy one of the shelf's products; a few events arrive a batch late and a few twice.

The 與輝同行 session of the article had 87.4 million views (entries), about 400 products and
over 5.1 million orders; ``replay(87_400_000, 5_100_000)`` generates that session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hutong.live.counters import KIND, MINUTE_MS, Batch

START = 1_731_240_000_000  # 2024-11-10 20:00 Beijing
_SCRAMBLE = np.uint64(0xD6E8FEB86659FD93)  # odd: a bijection that makes ids look random


def scrambled(n: np.ndarray, salt: int) -> np.ndarray:
    mixed = (n.astype(np.uint64) | np.uint64(salt << 48)) * _SCRAMBLE
    return (mixed >> np.uint64(1)).view(np.int64)  # positive, never the table's EMPTY key


@dataclass
class Replay:
    views: int
    orders: int
    minutes: int
    products: int
    events: int = 0

    def batches(self, seed: int = 7, late: float = 0.001, twice: float = 0.002) -> Iterator[Batch]:
        rng = np.random.default_rng(seed)
        span = self.minutes * MINUTE_MS
        enter_ts = np.sort(rng.integers(0, span, self.views)) + START
        visitor = rng.integers(0, max(1, self.views * 2 // 5), self.views)
        leave_ts = enter_ts + rng.exponential(10 * MINUTE_MS, self.views).astype(np.int64)
        leaves = np.flatnonzero(leave_ts < START + span)
        leave_minute = ((leave_ts[leaves] - START) // MINUTE_MS).astype(np.int16)
        by_minute = np.argsort(leave_minute, kind="stable")  # a radix sort: 16-bit keys
        leaves = leaves[by_minute]
        leave_bounds = np.searchsorted(leave_minute[by_minute], np.arange(self.minutes + 1))
        enter_bounds = np.searchsorted(enter_ts, START + np.arange(self.minutes + 1) * MINUTE_MS)
        order_ts = np.sort(rng.integers(0, span, self.orders)) + START
        order_bounds = np.searchsorted(order_ts, START + np.arange(self.minutes + 1) * MINUTE_MS)
        popularity = 1 / np.arange(1, self.products + 1) ** 0.8
        prices = rng.integers(990, 39_900, self.products)
        held: Batch | None = None
        for m in range(self.minutes):
            ins = np.arange(enter_bounds[m], enter_bounds[m + 1])
            outs = leaves[leave_bounds[m] : leave_bounds[m + 1]]
            buys = np.arange(order_bounds[m], order_bounds[m + 1])
            likes = ins[::4]
            product = rng.choice(self.products, size=buys.size, p=popularity / popularity.sum())
            parts = [
                (scrambled(ins, 1), "enter", enter_ts[ins], visitor[ins], -1, 0, 0),
                (scrambled(outs, 2), "leave", leave_ts[outs], visitor[outs], -1, 0, 0),
                (scrambled(likes, 3), "like", enter_ts[likes] + 1000, visitor[likes], -1, 0, 0),
                (
                    scrambled(buys, 4),
                    "order",
                    order_ts[buys],
                    0,
                    product,
                    scrambled(buys, 5),
                    prices[product],
                ),
            ]
            batch = _concat(parts)
            resent = rng.random(len(batch)) < twice
            delayed = rng.random(len(batch)) < late
            now = batch.take(np.flatnonzero(~delayed))
            out = _join([b for b in (now, held, batch.take(np.flatnonzero(resent))) if b])
            held = batch.take(np.flatnonzero(delayed))
            self.events += len(out)
            yield out
        if held is not None and len(held):
            self.events += len(held)
            yield held


def _concat(parts: list[tuple[Any, ...]]) -> Batch:
    columns: list[list[np.ndarray]] = [[] for _ in range(7)]
    for event_id, kind, ts, viewer, product, order, amount in parts:
        n = event_id.shape[0]
        values = (event_id, np.full(n, KIND[kind], np.int8), ts, viewer, product, order, amount)
        for column, value in zip(columns, values, strict=True):
            column.append(np.broadcast_to(np.asarray(value), (n,)))
    return Batch(*(np.concatenate(c) for c in columns))


def _join(batches: list[Batch]) -> Batch:
    return Batch(
        *(np.concatenate(cols) for cols in zip(*(vars(b).values() for b in batches), strict=True))
    )
