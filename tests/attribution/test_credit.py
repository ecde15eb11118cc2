"""The column-wise credits equal the per-journey definitions (``weights``) to the fen, for
every model, on generated journeys; every order's credits sum to its paid amount."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hutong.attribution.credit import Params, credit
from hutong.attribution.journeys import JOURNEY
from hutong.attribution.weights import (
    MODELS,
    Journey,
    first_click,
    last_click,
    linear,
    markov_removal_effects,
    markov_weights,
    position_based,
    time_decay,
    to_fen,
)

touch = st.tuples(st.booleans(), st.integers(0, 30 * 86_400_000), st.sampled_from("abcd"))
journey = st.tuples(st.integers(0, 10**9), st.lists(touch, min_size=1, max_size=8))


def table_of(journeys: list[tuple[int, list[tuple[bool, int, str]]]]) -> pa.Table:
    rows = []
    placed = 40 * 86_400_000
    for j, (amount, touches) in enumerate(journeys):
        ordered = sorted(touches, key=lambda t: placed - t[1])
        for k, (is_click, age, channel) in enumerate(ordered):
            rows.append(
                {
                    "order_id": f"o{j:04d}",
                    "paid_fen": amount,
                    "placed_ms": placed,
                    "touch_id": f"t{k:02d}",
                    "kind": "click" if is_click else "view",
                    "ts_ms": placed - age,
                    "placement_id": channel,
                }
            )
    full = [
        {f.name: r.get(f.name, 0 if pa.types.is_integer(f.type) else "") for f in JOURNEY}
        for r in rows
    ]
    return pa.Table.from_pylist(full, schema=JOURNEY).sort_by(
        [("order_id", "ascending"), ("ts_ms", "ascending"), ("touch_id", "ascending")]
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(journey, min_size=1, max_size=12),
    st.floats(0.5, 30),
    st.floats(0, 0.5),
    st.integers(1, 7),
)
def test_columnwise_credits_equal_the_per_journey_definition(
    journeys: list[tuple[int, list[tuple[bool, int, str]]]],
    half_life: float,
    share: float,
    chunk: int,
) -> None:
    # engines answer in chunks that may split a journey: cut the table every ``chunk`` rows
    whole = table_of(journeys)
    table = pa.concat_tables([whole.slice(i, chunk) for i in range(0, whole.num_rows, chunk)])
    params = Params(half_life_days=half_life, first_share=share, last_share=0.5 - share / 2)
    result = credit(table, MODELS, params)
    rows = result.table.to_pylist()
    by_order: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_order.setdefault(str(row["order_id"]), []).append(row)
    for order_rows in by_order.values():
        amount = int(order_rows[0]["paid_fen"])  # type: ignore[call-overload]
        clicks = [r["kind"] == "click" for r in order_rows]
        ages = [(int(r["placed_ms"]) - int(r["ts_ms"])) / 1000 for r in order_rows]  # type: ignore[call-overload]
        channels = [str(r["placement_id"]) for r in order_rows]
        n = len(order_rows)
        expected = {
            "last_click": to_fen(last_click(clicks), amount),
            "first_click": to_fen(first_click(clicks), amount),
            "linear": to_fen(linear(n), amount),
            "time_decay": to_fen(time_decay(ages, half_life * 86_400), amount),
            "position_based": to_fen(
                position_based(n, params.first_share, params.last_share), amount
            ),
            "markov": to_fen(markov_weights(channels, result.markov_effects), amount),
        }
        for model in MODELS:
            got = [r[f"{model}_fen"] for r in order_rows]
            assert got == expected[model], model
            assert sum(got) == amount  # type: ignore[arg-type]


def test_markov_credits_use_the_chain_of_all_journeys() -> None:
    table = table_of([(1_000, [(True, 3, "c1"), (True, 2, "c2"), (True, 1, "c3")])])
    nulls = pa.table(
        {
            "device_key": ["x", "y", "y"],
            "ts_ms": [1, 1, 2],
            "touch_id": ["n1", "n2", "n3"],
            "channel": ["c1", "c2", "c3"],
        }
    )
    result = credit(table, ("markov",), null_paths=nulls)
    assert result.markov_effects == pytest.approx({"c1": 0.5, "c2": 1.0, "c3": 1.0})
    assert result.table["markov_fen"].to_pylist() == [200, 400, 400]
    assert markov_removal_effects(
        [Journey(("c1", "c2", "c3"), True), Journey(("c1",), False), Journey(("c2", "c3"), False)]
    ) == pytest.approx(result.markov_effects)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="half-life"):
        Params(half_life_days=0)
    with pytest.raises(ValueError, match="shares"):
        Params(first_share=0.7, last_share=0.4)
    with pytest.raises(ValueError, match="unknown model"):
        credit(table_of([(1, [(True, 1, "a")])]), ("best_guess",))
