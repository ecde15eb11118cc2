"""A hash table from int64 keys to dense indices (0, 1, 2... in order of first insertion),
probed for a whole batch of keys at once with NumPy.

The live counters look up every event id, viewer and order of a batch; a Python dict costs
about a microsecond a key, a sorted array a cache miss per level. Open addressing with linear
probing, done as vector gathers, costs a few gathers a key, and the gathers of one batch
overlap in memory. A batch's inserts claim empty slots by writing and reading back: of
several keys that want one slot the last write wins, the others probe on.

The one key that cannot be stored is ``EMPTY`` (the smallest int64); callers map their ids
into the rest of the range.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
EMPTY = np.int64(np.iinfo(np.int64).min)
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads nearby keys
MAX_LOAD = 0.5


def grown(array: npt.NDArray[np.generic], needed: int, fill: int = 0) -> npt.NDArray[np.generic]:
    """``array`` with room for ``needed`` rows, doubling so that appends stay amortised."""
    if needed <= array.shape[0]:
        return array
    rows = max(needed, 2 * array.shape[0], 16)
    out = np.full((rows, *array.shape[1:]), fill, dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


class IntTable:
    def __init__(self, bits: int = 12) -> None:
        self.size = 0
        self._bits = bits
        self._slot_key = np.full(1 << bits, EMPTY, dtype=np.int64)
        self._slot_index = np.full(1 << bits, -1, dtype=np.int64)
        self._keys: I64 = np.empty(0, dtype=np.int64)  # key of each dense index

    @property
    def keys(self) -> I64:
        return self._keys[: self.size]

    def _home(self, keys: I64) -> I64:
        shift = np.uint64(64 - self._bits)
        return ((keys.view(np.uint64) * _FIBONACCI) >> shift).astype(np.int64)

    def find(self, keys: I64) -> I64:
        """The dense index of each key, -1 where absent."""
        pos = self._home(keys)
        slot = np.take(self._slot_key, pos)
        out = np.where(slot == keys, np.take(self._slot_index, pos), -1)
        active = np.flatnonzero((slot != keys) & (slot != EMPTY))  # collided: probe on
        mask = (1 << self._bits) - 1
        while active.size:
            at = (np.take(pos, active) + 1) & mask
            pos[active] = at
            slot = np.take(self._slot_key, at)
            wanted = np.take(keys, active)
            hit = slot == wanted
            out[active[hit]] = np.take(self._slot_index, at[hit])
            active = active[~hit & (slot != EMPTY)]
        return out

    def insert(self, keys: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
        """The dense index of each key, adding the absent ones; and which rows added their key
        (of repeats of one new key within the batch, one of them)."""
        if (keys == EMPTY).any():
            raise ValueError("the smallest int64 cannot be a key")
        index = self.find(keys)
        absent = np.flatnonzero(index < 0)
        added = np.zeros(keys.shape[0], dtype=bool)
        if absent.size == 0:
            return index, added
        order = absent[np.argsort(keys[absent])]
        sorted_keys = keys[order]
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
        fresh = sorted_keys[first]
        new_index = self.size + np.arange(fresh.shape[0])
        self._reserve(self.size + fresh.shape[0])
        self._place(fresh, new_index)
        self._keys = grown(self._keys, self.size + fresh.shape[0])  # type: ignore[assignment]
        self._keys[self.size : self.size + fresh.shape[0]] = fresh
        self.size += fresh.shape[0]
        index[order] = new_index[np.cumsum(first) - 1]
        added[order[first]] = True
        return index, added

    def _reserve(self, total: int) -> None:
        bits = self._bits
        while total > MAX_LOAD * (1 << bits):
            bits += 1
        if bits == self._bits:
            return
        self._bits = bits
        self._slot_key = np.full(1 << bits, EMPTY, dtype=np.int64)
        self._slot_index = np.full(1 << bits, -1, dtype=np.int64)
        self._rebuild()

    def _rebuild(self) -> None:
        """Place every key into the new, empty slots at once: sorted by home slot, key ``i``
        goes to ``max(home[i], slot[i-1] + 1)``, a running maximum; the few pushed past the
        end wrap around through the probing path."""
        home = self._home(self.keys)
        order = np.argsort(home)
        ranks = np.arange(self.size, dtype=np.int64)
        slots = np.maximum.accumulate(home[order] - ranks) + ranks
        fits = slots < (1 << self._bits)
        np.put(self._slot_key, slots[fits], self.keys[order[fits]])
        np.put(self._slot_index, slots[fits], order[fits])
        spill = order[~fits]
        self._place(self.keys[spill], spill)

    def _place(self, keys: I64, index: I64) -> None:
        """Put distinct keys known to be absent into empty slots."""
        mask = (1 << self._bits) - 1
        pos = self._home(keys)
        active = np.arange(keys.shape[0])
        while active.size:
            at = np.take(pos, active)
            free = np.take(self._slot_key, at) == EMPTY
            claim, claim_at = active[free], at[free]
            wanted = np.take(keys, claim)
            np.put(self._slot_key, claim_at, wanted)  # of rivals for a slot, the last write wins
            won = np.take(self._slot_key, claim_at) == wanted
            np.put(self._slot_index, claim_at[won], np.take(index, claim[won]))
            placed = np.zeros(active.shape[0], dtype=bool)
            placed[np.flatnonzero(free)[won]] = True
            active = active[~placed]
            pos[active] = (np.take(pos, active) + 1) & mask
