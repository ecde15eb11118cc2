"""The attribution models on hand-checked cases and as properties: weights sum to 1, credits
sum to the order's amount in fen, and the Markov model is exact."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hutong.attribution import weights as chains
from hutong.attribution.weights import (
    Journey,
    first_click,
    last_click,
    linear,
    markov_removal_effects,
    markov_shares,
    markov_weights,
    position_based,
    time_decay,
    to_fen,
)


def test_the_three_path_toy_gives_the_known_removal_effects_and_credits() -> None:
    journeys = [
        Journey(("c1", "c2", "c3"), converted=True),
        Journey(("c1",), converted=False),
        Journey(("c2", "c3"), converted=False),
    ]
    effects = markov_removal_effects(journeys)
    assert effects == pytest.approx({"c1": 0.5, "c2": 1.0, "c3": 1.0})
    assert markov_shares(effects) == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})
    assert to_fen(markov_weights(("c1", "c2", "c3"), effects), 1_000) == [200, 400, 400]


def test_markov_collapses_repeats_and_counts_identical_journeys() -> None:
    repeated = [Journey(("a", "a", "b"), True, count=3), Journey(("a",), False, count=3)]
    plain = [Journey(("a", "b"), True, count=3), Journey(("a",), False, count=3)]
    assert markov_removal_effects(repeated) == pytest.approx(markov_removal_effects(plain))
    assert markov_removal_effects([Journey(("a",), False)]) == {"a": 0.0}
    higher = markov_removal_effects(plain, order=3)
    assert higher == pytest.approx({"a": 1.0, "b": 1.0})


def test_weight_models() -> None:
    assert last_click([True] * 3) == [0, 0, 1] and first_click([True] * 3) == [1, 0, 0]
    assert last_click([True, True, False]) == [0, 1, 0]  # a later view does not take it
    assert first_click([False, True, True]) == [0, 1, 0]
    assert last_click([False, False]) == [0, 1] and first_click([False, False]) == [1, 0]
    assert linear(4) == [0.25] * 4 and linear(0) == []
    assert position_based(5) == pytest.approx([0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4])
    assert position_based(2) == [0.5, 0.5] and position_based(1) == [1.0]
    assert position_based(3, first=0.3, last=0.5) == pytest.approx([0.3, 0.2, 0.5])
    decay = time_decay([7 * 86400, 86400, 0], half_life_seconds=86400)
    assert decay == pytest.approx([2**-7, 0.5, 1.0])
    with pytest.raises(ValueError):
        time_decay([1], 0)


def test_largest_remainder_by_hand() -> None:
    assert to_fen([1, 1, 1], 100) == [34, 33, 33]  # the tie goes to the earlier touchpoint
    assert to_fen([0.2, 0.4, 0.4], 1) == [0, 1, 0]
    assert to_fen([0.0, 1.0], 99) == [0, 99]
    assert to_fen([1, 2], 0) == [0, 0]


@given(
    st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=40
    ).filter(lambda w: math.fsum(w) > 1e-9),
    st.integers(0, 10**12),
)
def test_credits_always_sum_to_the_amount(weights: list[float], amount: int) -> None:
    credits = to_fen(weights, amount)
    assert sum(credits) == amount and all(c >= 0 for c in credits)
    total = math.fsum(weights)
    for w, c in zip(weights, credits, strict=True):
        exact = w / total * amount
        assert exact - 1 < c < exact + 1
        if w == 0:
            assert c == 0  # nothing for a touchpoint the model gives nothing


@given(st.integers(1, 30), st.floats(0.05, 0.5), st.floats(0.05, 0.5))
def test_every_weight_model_sums_to_one(n: int, first: float, last: float) -> None:
    clicks = [i % 2 == 0 for i in range(n)]
    for weights in (
        last_click(clicks),
        first_click(clicks),
        linear(n),
        position_based(n, first, last),
    ):
        assert len(weights) == n and math.fsum(weights) == pytest.approx(1.0)
        assert all(w >= 0 for w in weights)
    decay = time_decay([float((n - i) * 3600) for i in range(n)], 7200)
    assert all(0 < a < b for a, b in itertools.pairwise(decay))  # newer weighs more


def _reference_effects(journeys: list[Journey], order: int) -> dict[str, float]:
    """The order-k chain by its definition, one journey and one transition at a time, solved
    densely: a state is a step's last k channels of its (collapsed) journey, a removed
    channel's states convert nothing."""
    counts: dict[tuple[object, object], float] = {}
    for j in journeys:
        steps = [c for i, c in enumerate(j.channels) if i == 0 or c != j.channels[i - 1]]
        states: list[object] = ["start"]
        states += [tuple(steps[max(0, i - order + 1) : i + 1]) for i in range(len(steps))]
        states.append("conv" if j.converted else "null")
        for a, b in itertools.pairwise(states):
            counts[(a, b)] = counts.get((a, b), 0.0) + j.count
    transient = sorted({a for a, _ in counts}, key=str)
    index = {s: i for i, s in enumerate(transient)}
    totals = {s: sum(v for (a, _), v in counts.items() if a == s) for s in transient}
    channels = sorted({c for j in journeys for c in j.channels})

    def converts(removed: str | None) -> float:
        alive = [s == "start" or removed not in s for s in transient]  # type: ignore[operator]
        q = np.zeros((len(transient), len(transient)))
        r = np.zeros(len(transient))
        for (a, b), v in counts.items():
            if b == "conv":
                r[index[a]] += v / totals[a]
            elif b != "null" and alive[index[b]]:
                q[index[a], index[b]] += v / totals[a]
        keep = np.flatnonzero(alive)
        x = np.linalg.solve(np.eye(len(keep)) - q[np.ix_(keep, keep)], r[keep])
        return float(x[list(keep).index(index["start"])])

    base = converts(None)
    return {c: (1.0 - converts(c) / base) if base > 0 else 0.0 for c in channels}


markov_journey = st.builds(
    Journey,
    st.lists(st.sampled_from("abcde"), min_size=1, max_size=6).map(tuple),
    st.booleans(),
    st.integers(1, 4),
)


@given(
    st.lists(markov_journey, min_size=1, max_size=25),
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
)
def test_the_markov_chain_equals_its_definition(
    journeys: list[Journey], order: int, dense: bool, iterate: bool
) -> None:
    # both ways of indexing states and transitions (by a table; by a sort, as for large key
    # spaces) and both solvers (sparse LU; the Neumann series, as for large chains)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chains, "DENSE_KEYS", 1 << 22 if dense else 0)
        patch.setattr(chains, "DIRECT_STATES", 0 if iterate else 5_000)
        got = markov_removal_effects(journeys, order=order)
    assert got == pytest.approx(_reference_effects(journeys, order), abs=1e-9)
