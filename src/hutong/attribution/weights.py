"""Attribution models: who caused a sale, as fractions of it, and those fractions in fen.

Every model turns one order's touchpoints (oldest first) into weights that sum to 1; ``to_fen``
turns weights into credits that sum to the order's paid amount exactly, by one rule used
everywhere (both engines' journeys go through it): **largest remainder** — each credit is the
floor of its exact share, and the fen left over go one each to the largest fractional parts,
ties to the earlier touchpoint.

The data-driven model is Markov (``markov_removal_effects``), computed exactly: the journeys
define an absorbing chain (start, channel states, conversion, null); the conversion probability
from start solves ``(I - Q) x = r`` with a sparse LU factorisation; a channel's removal effect is
``1 - p(without it) / p``, where removing a channel sends every transition into it to null. A
journey's weights are its channels' removal effects, normalised within the journey. Conventions
(docs/attribution.md): consecutive repeats of a channel are collapsed by default (``c1 c1 c2``
is ``c1 c2``); at order k the states are the last k channels; journeys that never convert end in
the null state. Large chains (order 3 over many channels has tens of thousands of states, and
their LU factors fill in badly) are solved by the Neumann series to a double's precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, diags, identity
from scipy.sparse.linalg import splu

MODELS = ("last_click", "first_click", "linear", "time_decay", "position_based", "markov")


def largest_remainder(
    weights: np.ndarray, group: np.ndarray, starts: np.ndarray, amounts: np.ndarray
) -> np.ndarray:
    """Credits in fen for many journeys at once: the one rounding rule of hutong.

    ``weights`` are the touchpoints' weights, journeys contiguous and oldest first; ``group``
    is each row's journey index, ``starts`` each journey's first row and ``amounts`` each
    journey's amount in fen. Each credit is the floor of its exact share; the fen left over go
    one each to the largest fractional parts, ties to the earlier touchpoint. Every journey's
    credits sum to its amount exactly; a journey of amount 0 gets zeros.
    """
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    amounts = amounts.astype(np.int64)
    totals = np.bincount(group, weights=weights, minlength=len(amounts))
    if np.any((totals <= 0) & (amounts != 0)):
        raise ValueError("weights must have a positive sum")
    safe = np.where(totals > 0, totals, 1.0)
    exact = weights / safe[group] * amounts[group].astype(np.float64)
    floors: np.ndarray = np.floor(exact).astype(np.int64)
    frac = exact - floors
    left = amounts - np.bincount(group, weights=floors, minlength=len(amounts)).astype(np.int64)
    if not left.any():  # every share whole (single-touch models): nothing to hand out
        return floors
    position = np.arange(n) - starts[group]
    ranked = np.lexsort((position, -frac, group))
    rank = np.empty(n, dtype=np.int64)
    rank[ranked] = np.arange(n) - starts[group[ranked]]
    credits: np.ndarray = floors + (rank < left[group])
    return credits


def to_fen(weights: Sequence[float], amount_fen: int) -> list[int]:
    """One journey's credits in fen summing to ``amount_fen`` (``largest_remainder``)."""
    if amount_fen == 0 or not weights:
        return [0] * len(weights)
    credits = largest_remainder(
        np.asarray(weights, dtype=np.float64),
        np.zeros(len(weights), dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.asarray([amount_fen], dtype=np.int64),
    )
    return [int(c) for c in credits]


def last_click(is_click: Sequence[bool]) -> list[float]:
    """All to the last click; a journey of views only gives it to the last view."""
    n = len(is_click)
    clicks = [i for i, c in enumerate(is_click) if c]
    chosen = clicks[-1] if clicks else n - 1
    return [1.0 if i == chosen else 0.0 for i in range(n)]


def first_click(is_click: Sequence[bool]) -> list[float]:
    """All to the first click; a journey of views only gives it to the first view."""
    n = len(is_click)
    clicks = [i for i, c in enumerate(is_click) if c]
    chosen = clicks[0] if clicks else 0
    return [1.0 if i == chosen else 0.0 for i in range(n)]


def linear(n: int) -> list[float]:
    return [1.0 / n] * n if n else []


def time_decay(ages_seconds: Sequence[float], half_life_seconds: float) -> list[float]:
    """Weight halves every ``half_life_seconds`` before the conversion."""
    if half_life_seconds <= 0:
        raise ValueError("half-life must be positive")
    return [2.0 ** (-max(age, 0.0) / half_life_seconds) for age in ages_seconds]


def position_based(n: int, first: float = 0.4, last: float = 0.4) -> list[float]:
    """``first`` and ``last`` to the ends, the rest spread over the middle (40/20/40 by
    default); one touchpoint takes all, two split ``first : last``."""
    if n == 0:
        return []
    if n == 1:
        return [1.0]
    if n == 2:
        return [first / (first + last), last / (first + last)]
    middle = (1.0 - first - last) / (n - 2)
    return [first] + [middle] * (n - 2) + [last]


# -- Markov -----------------------------------------------------------------------------------
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


@dataclass(frozen=True)
class Journey:
    channels: tuple[str, ...]
    converted: bool
    count: int = 1  # identical journeys, aggregated


@dataclass(frozen=True)
class Paths:
    """Many journeys as flat arrays (how the engines hand them over): every step's channel
    code, each journey's ``[start, end)``, and how many times it converted and did not."""

    names: list[str]  # code -> channel
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray

    @classmethod
    def of(cls, journeys: Sequence[Journey]) -> Paths:
        names = sorted({c for j in journeys for c in j.channels})
        code = {c: i for i, c in enumerate(names)}
        lengths = np.fromiter((len(j.channels) for j in journeys), np.int64, len(journeys))
        ends = np.cumsum(lengths)
        flat = [code[c] for j in journeys for c in j.channels]
        return cls(
            names,
            np.asarray(flat, dtype=np.int64),
            ends - lengths,
            ends,
            np.fromiter((j.count if j.converted else 0 for j in journeys), np.float64),
            np.fromiter((0 if j.converted else j.count for j in journeys), np.float64),
        )

    def collapsed(self) -> Paths:
        """Consecutive repeats of a channel within a journey made one step."""
        n = len(self.codes)
        if n == 0:
            return self
        first = np.zeros(n, dtype=bool)
        first[self.starts[self.ends > self.starts]] = True
        keep = first | np.concatenate(([True], self.codes[1:] != self.codes[:-1]))
        kept_before = np.concatenate(([0], np.cumsum(keep)))
        return Paths(
            self.names,
            self.codes[keep],
            kept_before[self.starts],
            kept_before[self.ends],
            self.conversions,
            self.nulls,
        )


DENSE_KEYS = 1 << 22  # key spaces up to this size are indexed by a table, not a sort


def _distinct(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for non-negative keys below ``space``. A small
    space is indexed through a table of that size (two linear passes); a sort of millions of
    keys was most of the time of an order-1 chain."""
    if space > DENSE_KEYS:
        distinct, inverse = np.unique(keys, return_inverse=True)
        return distinct, inverse.reshape(-1)
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    index = np.cumsum(present) - 1
    return np.flatnonzero(present), index[keys]


def _state_index(window: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``window`` (each step's last k channels) and each step's state number
    (1-based: 0 is start). Rows are packed into one integer when they fit (one pass over
    int64 keys instead of a sort of rows)."""
    n, order = window.shape
    base = channels + 1
    if base**order < 2**62:
        packed = np.zeros(n, dtype=np.int64)
        for col in range(order):
            packed = packed * base + (window[:, col] + 1)
        distinct, inverse = _distinct(packed, base**order)
        members = np.empty((len(distinct), order), dtype=np.int64)
        rest = distinct.copy()
        for col in range(order - 1, -1, -1):
            members[:, col] = rest % base - 1
            rest //= base
        return members, inverse + 1
    members, inverse = np.unique(window, axis=0, return_inverse=True)
    return members, inverse.reshape(-1) + 1


@dataclass
class Chain:
    """Transition counts of an order-k chain, indexed for fast removal-effect solves: state 0
    is start, conversion and null are the columns -1 and -2; ``members`` says which channels
    each state holds (its last k channels)."""

    size: int  # transient states, start included
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    channels: list[str]
    members: np.ndarray  # (states, k) channel codes, -1 where a state holds fewer

    @classmethod
    def build(cls, journeys: Sequence[Journey], order: int = 1, collapse: bool = True) -> Chain:
        return cls.of_paths(Paths.of(journeys), order, collapse)

    @classmethod
    def of_paths(cls, paths: Paths, order: int = 1, collapse: bool = True) -> Chain:
        if order < 1:
            raise ValueError("the order of a Markov chain is at least 1")
        if collapse:
            paths = paths.collapsed()
        live = paths.ends > paths.starts
        starts, ends = paths.starts[live], paths.ends[live]
        conv, null = paths.conversions[live], paths.nulls[live]
        codes, n = paths.codes, len(paths.codes)
        group = np.repeat(np.arange(len(starts)), ends - starts)
        # each step's state: its channel and up to order-1 before it, in its own journey
        window = np.full((n, order), -1, dtype=np.int64)
        for back in range(order):
            prev = np.arange(n) - back
            inside = prev >= starts[group] if n else np.zeros(0, dtype=bool)
            window[:, order - 1 - back] = np.where(inside, codes[np.maximum(prev, 0)], -1)
        members, state = _state_index(window, len(paths.names))
        weight = (conv + null)[group]
        first = np.zeros(n, dtype=bool)
        first[starts] = True
        prev_state = np.where(first, 0, np.concatenate(([0], state[:-1])))
        size = len(members) + 1
        # transient steps: one key per (from, to) pair, summed; absorptions: per state
        pairs, inverse = _distinct(prev_state * size + state, size * size)
        moved = np.bincount(inverse, weights=weight, minlength=len(pairs))
        last_state = state[ends - 1]
        absorbed = [np.bincount(last_state, weights=w, minlength=size) for w in (null, conv)]
        by_state = np.arange(size)
        rows = np.concatenate((pairs // size, by_state, by_state))
        cols = np.concatenate((pairs % size, np.full(size, -1), np.full(size, -2)))
        counts = np.concatenate((moved, absorbed[1], absorbed[0]))
        used = counts > 0
        rows, cols, counts = rows[used], cols[used], counts[used]
        ordered = np.argsort(rows * (size + 2) + (cols + 2), kind="stable")  # row, then column
        return cls(
            size=size,
            rows=rows[ordered],
            cols=cols[ordered],
            counts=counts[ordered],
            channels=list(paths.names),
            members=members,
        )

    def dead_states(self, channel: int) -> np.ndarray:
        dead = np.zeros(self.size, dtype=bool)
        dead[1:] = np.any(self.members == channel, axis=1)
        return dead

    def _system(self) -> tuple[csr_matrix, np.ndarray]:
        """Q (transient to transient) and r (transient to conversion), as probabilities."""
        n = self.size
        totals = np.bincount(self.rows, weights=self.counts, minlength=n)
        probs = self.counts / totals[self.rows]
        transient = self.cols >= 0
        q = csr_matrix(
            (probs[transient], (self.rows[transient], self.cols[transient])), shape=(n, n)
        )
        converts = self.cols == -1
        return q, np.bincount(self.rows[converts], weights=probs[converts], minlength=n)

    def conversion_probabilities(self, removed: list[int]) -> list[float]:
        """P(conversion from start) with nothing removed, then with each channel code of
        ``removed`` removed (its states absorb into null). Small chains are solved directly
        (sparse LU, one per case); large ones by the Neumann series ``x = r + Q x`` for all
        cases at once, iterated until no entry moves by more than ``TOLERANCE`` of the largest
        (the linear system's answer to a double's precision), else directly."""
        q, r = self._system()
        alive = np.ones((self.size, len(removed) + 1))
        for j, code in enumerate(removed):
            alive[:, j + 1] = ~self.dead_states(code)
        if self.size > DIRECT_STATES:
            solved = _neumann(q, r, alive)
            if solved is not None:
                return solved
        return [_direct(q, r, alive[:, j]) for j in range(alive.shape[1])]


DIRECT_STATES = 5_000
TOLERANCE = 1e-15
MAX_ITERATIONS = 10_000


def _direct(q: csr_matrix, r: np.ndarray, alive: np.ndarray) -> float:
    """Dead states' incoming transitions go to null: their columns of Q are dropped."""
    n = q.shape[0]
    kept = q @ diags(alive)
    system = (identity(n, format="csc") - kept).tocsc()
    return float(splu(system).solve(r * alive)[0])


def _neumann(q: csr_matrix, r: np.ndarray, alive: np.ndarray) -> list[float] | None:
    """Multiplying a many-column block by Q in compressed-column form took a third of the
    time it takes in compressed-row form here (scipy, 97,000 states, 51 columns)."""
    rhs = r[:, None] * alive
    x = rhs.copy()
    by_column = q.tocsc()
    for step in range(1, MAX_ITERATIONS + 1):
        nxt = by_column @ x
        nxt += rhs
        nxt *= alive
        if step % 4 == 0 or step == MAX_ITERATIONS:
            moved = float(np.max(np.abs(nxt - x)))
            if moved <= TOLERANCE * max(float(np.max(np.abs(nxt))), 1e-300):
                return [float(v) for v in nxt[0]]
        x = nxt
    return None


def markov_removal_effects(
    journeys: Sequence[Journey] | Paths, order: int = 1, collapse: bool = True
) -> dict[str, float]:
    """Each channel's removal effect (0..1) under an exact order-k absorbing chain."""
    paths = journeys if isinstance(journeys, Paths) else Paths.of(journeys)
    chain = Chain.of_paths(paths, order, collapse)
    present = np.unique(chain.members[chain.members >= 0]).tolist()
    effects = dict.fromkeys((chain.channels[i] for i in present), 0.0)
    probabilities = chain.conversion_probabilities(present)
    base = probabilities[0]
    if base <= 0:
        return effects
    for code, without in zip(present, probabilities[1:], strict=True):
        effects[chain.channels[code]] = 1.0 - without / base
    return effects


def markov_shares(effects: dict[str, float]) -> dict[str, float]:
    """Removal effects normalised to shares of all conversions (ChannelAttribution's output)."""
    total = math.fsum(effects.values())
    return {c: (e / total if total else 0.0) for c, e in effects.items()}


def markov_weights(channels: Sequence[str], effects: dict[str, float]) -> list[float]:
    """One journey's weights: its touchpoints' channels' removal effects (``to_fen``
    normalises them, as the column-wise credits do, so both round the same floats); a journey
    whose channels all have no effect falls back to linear."""
    raw = [max(effects.get(c, 0.0), 0.0) for c in channels]
    return raw if any(r > 0 for r in raw) else linear(len(channels))
