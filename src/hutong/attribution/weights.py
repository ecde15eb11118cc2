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
the null state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_matrix, identity
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
    floors = np.floor(exact).astype(np.int64)
    frac = exact - floors
    left = amounts - np.bincount(group, weights=floors, minlength=len(amounts)).astype(np.int64)
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


def _states(channels: tuple[str, ...], order: int, collapse: bool) -> list[tuple[str, ...]]:
    if collapse:
        channels = tuple(c for i, c in enumerate(channels) if i == 0 or c != channels[i - 1])
    return [channels[max(0, i - order + 1) : i + 1] for i in range(len(channels))]


@dataclass
class Chain:
    """Transition counts of an order-k chain, indexed for fast removal-effect solves."""

    index: dict[tuple[str, ...], int]
    rows: np.ndarray  # from-state (transient index; 0 is start)
    cols: np.ndarray  # to-state (transient index, or -1 conversion, -2 null)
    counts: np.ndarray
    channels: list[str]

    @classmethod
    def build(cls, journeys: Sequence[Journey], order: int = 1, collapse: bool = True) -> Chain:
        index: dict[tuple[str, ...], int] = {(START,): 0}
        edges: dict[tuple[int, int], float] = {}
        for journey in journeys:
            states = _states(journey.channels, order, collapse)
            path = [0]
            for state in states:
                path.append(index.setdefault(state, len(index)))
            path.append(-1 if journey.converted else -2)
            for a, b in itertools.pairwise(path):
                edges[(a, b)] = edges.get((a, b), 0.0) + journey.count
        keys = list(edges)
        channels = sorted({c for state in index for c in state if c != START})
        return cls(
            index=index,
            rows=np.fromiter((k[0] for k in keys), dtype=np.int64, count=len(keys)),
            cols=np.fromiter((k[1] for k in keys), dtype=np.int64, count=len(keys)),
            counts=np.fromiter((edges[k] for k in keys), dtype=np.float64, count=len(keys)),
            channels=channels,
        )

    def conversion_probability(self, removed: str | None = None) -> float:
        """P(reach conversion from start), with ``removed``'s states sent to null."""
        n = len(self.index)
        totals = np.bincount(self.rows, weights=self.counts, minlength=n)
        probs = self.counts / totals[self.rows]
        cols = self.cols
        if removed is not None:
            dead = np.zeros(n, dtype=bool)
            for state, i in self.index.items():
                if removed in state:
                    dead[i] = True
            into_dead = (cols >= 0) & dead[np.maximum(cols, 0)]
            cols = np.where(into_dead, -2, cols)
        transient = cols >= 0
        q = csc_matrix((probs[transient], (self.rows[transient], cols[transient])), shape=(n, n))
        r = np.bincount(self.rows[cols == -1], weights=probs[cols == -1], minlength=n)
        solved = splu((identity(n, format="csc") - q).tocsc()).solve(r)
        return float(solved[0])


def markov_removal_effects(
    journeys: Sequence[Journey], order: int = 1, collapse: bool = True
) -> dict[str, float]:
    """Each channel's removal effect (0..1) under an exact order-k absorbing chain."""
    chain = Chain.build(journeys, order, collapse)
    base = chain.conversion_probability()
    if base <= 0:
        return dict.fromkeys(chain.channels, 0.0)
    return {c: 1.0 - chain.conversion_probability(c) / base for c in chain.channels}


def markov_shares(effects: dict[str, float]) -> dict[str, float]:
    """Removal effects normalised to shares of all conversions (ChannelAttribution's output)."""
    total = math.fsum(effects.values())
    return {c: (e / total if total else 0.0) for c, e in effects.items()}


def markov_weights(channels: Sequence[str], effects: dict[str, float]) -> list[float]:
    """One journey's weights: its touchpoints' channels' removal effects, normalised; a journey
    whose channels all have no effect falls back to linear."""
    raw = [max(effects.get(c, 0.0), 0.0) for c in channels]
    total = math.fsum(raw)
    return [r / total for r in raw] if total > 0 else linear(len(channels))
