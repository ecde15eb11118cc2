"""Credits: every model's fen for every touchpoint of every journey, computed on whole columns.

The per-journey definitions are in ``weights`` (and tested there by hand); this module applies
the same definitions to all journeys at once with NumPy, and rounds with the one rule,
``weights.largest_remainder``. Both engines hand their journeys to these functions, so their
credits agree to the fen whenever their journeys agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hutong.attribution.weights import (
    MODELS,
    Paths,
    largest_remainder,
    markov_removal_effects,
)

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Params:
    """A run's model settings (docs/attribution.md)."""

    half_life_days: float = 7.0
    first_share: float = 0.4
    last_share: float = 0.4
    markov_order: int = 1
    collapse: bool = True
    channel: str = "placement_id"

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ValueError("the half-life must be positive")
        if not (
            self.first_share >= 0
            and self.last_share >= 0
            and self.first_share + self.last_share <= 1
        ):
            raise ValueError("position-based shares must be non-negative and sum to at most 1")
        if self.markov_order not in (1, 2, 3):
            raise ValueError("the Markov order is 1, 2 or 3")


def contiguous(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array of a column's values. (``pa.chunked_array([column])`` looks the same but
    walks a chunked column value by value in Python: 1.7 s for a million order ids.)"""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


@dataclass
class Layout:
    """Where each journey starts and ends in the flat table, and each row's place in it."""

    group: np.ndarray
    starts: np.ndarray
    ends: np.ndarray  # exclusive
    position: np.ndarray
    length: np.ndarray  # each row's journey length

    @classmethod
    def of(cls, order_ids: pa.ChunkedArray | pa.Array) -> Layout:
        """Journeys are runs of equal ids (the tables here are sorted by them), so a journey
        starts wherever an id differs from the one before: comparing neighbours costs a
        hundredth of hashing a million strings."""
        n = len(order_ids)
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, empty, empty)
        ids = pc.fill_null(contiguous(order_ids), "")
        differs = pc.not_equal(ids.slice(1), ids.slice(0, n - 1))
        change = np.flatnonzero(np.asarray(differs, dtype=bool)) + 1
        starts = np.concatenate(([0], change)).astype(np.int64)
        ends = np.concatenate((change, [n])).astype(np.int64)
        group = np.repeat(np.arange(len(starts)), ends - starts)
        position = np.arange(n) - starts[group]
        return cls(group, starts, ends, position, (ends - starts)[group])


@dataclass
class Credits:
    """The journeys with one ``<model>_fen`` column per model, and what the run learnt."""

    table: pa.Table
    markov_effects: dict[str, float] = field(default_factory=dict)


def _chosen(layout: Layout, is_click: np.ndarray, last: bool) -> np.ndarray:
    n = len(is_click)
    idx = np.arange(n)
    if last:
        pick = np.maximum.reduceat(np.where(is_click, idx, -1), layout.starts)
        fallback = layout.ends - 1
        chosen = np.where(pick >= 0, pick, fallback)
    else:
        pick = np.minimum.reduceat(np.where(is_click, idx, n), layout.starts)
        chosen = np.where(pick < n, pick, layout.starts)
    weights = np.zeros(n)
    weights[chosen] = 1.0
    return weights


def _position_based(layout: Layout, p: Params) -> np.ndarray:
    n = layout.length
    pos = layout.position
    middle = np.where(n > 2, (1.0 - p.first_share - p.last_share) / np.maximum(n - 2, 1), 0.0)
    both = p.first_share + p.last_share
    weights = np.where(pos == 0, p.first_share, np.where(pos == n - 1, p.last_share, middle))
    two = n == 2
    if both > 0:
        weights = np.where(two & (pos == 0), p.first_share / both, weights)
        weights = np.where(two & (pos == 1), p.last_share / both, weights)
    else:
        weights = np.where(two, 0.5, weights)
    return np.where(n == 1, 1.0, weights)


def _time_decay(table: pa.Table, p: Params) -> np.ndarray:
    age_s = (np.asarray(table["placed_ms"]) - np.asarray(table["ts_ms"])) / 1000.0
    decay: np.ndarray = np.power(2.0, -np.maximum(age_s, 0.0) / (p.half_life_days * DAY_SECONDS))
    return decay


def _markov_weights(
    channels: pa.ChunkedArray, layout: Layout, effects: dict[str, float]
) -> np.ndarray:
    """Each touchpoint's channel's removal effect; a journey whose channels have none is
    credited linearly."""
    encoded = contiguous(channels).dictionary_encode()
    lookup = np.asarray(
        [max(effects.get(str(c), 0.0), 0.0) for c in encoded.dictionary.to_pylist()],
        dtype=np.float64,
    )
    raw = lookup[np.asarray(encoded.indices)] if len(channels) else np.zeros(0)
    totals = np.bincount(layout.group, weights=raw, minlength=len(layout.starts))
    weights: np.ndarray = np.where(totals[layout.group] > 0, raw, 1.0)
    return weights


def _codes(column: pa.ChunkedArray | pa.Array, names: dict[str, int]) -> np.ndarray:
    """Channel codes of a string column, extending ``names`` with channels not seen yet."""
    encoded = contiguous(column).dictionary_encode()
    local = [names.setdefault(str(c), len(names)) for c in encoded.dictionary.to_pylist()]
    lookup = np.asarray(local, dtype=np.int64)
    return lookup[np.asarray(encoded.indices, dtype=np.int64)] if len(column) else lookup[:0]


def journeys_for_markov(
    table: pa.Table, layout: Layout, paths: pa.Table | None, channel: str
) -> Paths:
    """Converting journeys (one per order) and null paths (one per device), as flat arrays."""
    names: dict[str, int] = {}
    codes = [_codes(table[channel], names)]
    starts, ends = [layout.starts], [layout.ends]
    conversions = [np.ones(len(layout.starts))]
    offset = table.num_rows
    if paths is not None and paths.num_rows:
        null_layout = Layout.of(paths["device_key"])
        codes.append(_codes(paths["channel"], names))
        starts.append(null_layout.starts + offset)
        ends.append(null_layout.ends + offset)
        conversions.append(np.zeros(len(null_layout.starts)))
    conv = np.concatenate(conversions)
    return Paths(
        names=list(names),
        codes=np.concatenate(codes),
        starts=np.concatenate(starts),
        ends=np.concatenate(ends),
        conversions=conv,
        nulls=1.0 - conv,
    )


def credit(
    table: pa.Table,
    models: tuple[str, ...],
    params: Params | None = None,
    null_paths: pa.Table | None = None,
    markov_effects: Callable[[Paths], dict[str, float]] | None = None,
) -> Credits:
    """Add ``<model>_fen`` columns to a journeys table (``journeys.JOURNEY``, sorted)."""
    p = params or Params()
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    layout = Layout.of(table["order_id"])
    amounts = (
        np.asarray(table["paid_fen"])[layout.starts] if table.num_rows else np.zeros(0, np.int64)
    )
    is_click = np.asarray(pc.equal(table["kind"], "click"), dtype=bool)
    effects: dict[str, float] = {}
    out = table
    for model in models:
        if model == "last_click":
            weights = _chosen(layout, is_click, last=True)
        elif model == "first_click":
            weights = _chosen(layout, is_click, last=False)
        elif model == "linear":
            weights = np.ones(table.num_rows)
        elif model == "time_decay":
            weights = _time_decay(table, p)
        elif model == "position_based":
            weights = _position_based(layout, p)
        else:
            journeys = journeys_for_markov(table, layout, null_paths, p.channel)
            solve = markov_effects or (
                lambda js: markov_removal_effects(js, p.markov_order, p.collapse)
            )
            effects = solve(journeys)
            weights = _markov_weights(table[p.channel], layout, effects)
        fen = largest_remainder(weights, layout.group, layout.starts, amounts)
        out = out.append_column(f"{model}_fen", pa.array(fen, type=pa.int64()))
    return Credits(out, effects)
