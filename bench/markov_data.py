"""Generated journeys for the Markov benchmark: 1,000,000 journeys over 50 channels, as flat
arrays (how hutong's engines hand them over) and as the path table ``channelattribution``
reads (``c1>c2>c3``, total conversions, total nulls), the same journeys both ways.

Channels are drawn unevenly (a few big ones), each journey's length is geometric (mean about
three steps, at most twelve), the next channel depends on the current one (a sticky chain, so
repeats happen and collapse matters), and a journey converts with a probability that depends on
its channels (some channels convert better), so the removal effects differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hutong.attribution.weights import Paths


def generate(journeys: int, channels: int = 50, seed: int = 3) -> tuple[Paths, pa.Table]:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, channels + 1) ** 0.8
    popularity /= popularity.sum()
    lengths = np.minimum(rng.geometric(0.33, journeys), 12)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    n = int(ends[-1])
    codes = rng.choice(channels, size=n, p=popularity)
    stay = rng.random(n) < 0.3  # a third of steps repeat the channel before
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    for _ in range(3):  # propagate repeats along runs
        codes = np.where(stay & ~first, np.concatenate(([0], codes[:-1])), codes)
    lift = rng.uniform(0.02, 0.25, channels)
    group = np.repeat(np.arange(journeys), lengths)
    score = np.bincount(group, weights=lift[codes], minlength=journeys) / lengths
    converted = rng.random(journeys) < np.minimum(score * 1.5, 0.9)
    names = [f"ch{i:02d}" for i in range(channels)]
    paths = Paths(
        names,
        codes.astype(np.int64),
        starts,
        ends,
        converted.astype(np.float64),
        (~converted).astype(np.float64),
    )
    return paths, path_table(paths)


def path_table(paths: Paths) -> pa.Table:
    """channelattribution's input: one row per distinct path, conversions and nulls summed."""
    names = pa.array(paths.names)
    steps = names.take(pa.array(paths.codes))
    offsets = pa.array(np.concatenate((paths.starts, paths.ends[-1:])).astype(np.int32))
    lists = pa.ListArray.from_arrays(offsets, steps)
    joined = pc.binary_join(lists, ">")
    table = pa.table(
        {"path": joined, "total_conversions": paths.conversions, "total_null": paths.nulls}
    )
    return (
        table.group_by("path")
        .aggregate([("total_conversions", "sum"), ("total_null", "sum")])
        .rename_columns(["path", "total_conversions", "total_null"])
    )


def write(table: pa.Table, where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, where)
    return where
