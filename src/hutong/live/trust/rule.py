"""The trust score's rule, version ``trust-1``: 0 to 5, from rates over a window, explained.

A streamer starts at 5.00 and each factor deducts up to its weight; the weights sum to 5, so
the score never needs clamping and the explanation (each factor's deduction) always sums to
``5 - score`` exactly. Everything is in hundredths of a point (``cp``), integers.

- Rate factors (refunds, returns, complaints, negative reviews, quality incidents per order):
  the rate is smoothed towards a good rate as if ``PRIOR_ORDERS`` orders at that good rate had
  been seen too (a Beta prior), so three refunds in ten orders is not read as 30 %. At or below
  the good rate nothing is deducted; at the bad rate or worse, the whole weight; linearly in
  between.
- Penalty points in force (the platform's own ledger; revoked penalties do not count) deduct
  linearly up to ``PENALTY_FULL`` points; open fraud flags up to ``FLAGS_FULL`` flags.
- Below ``min_orders`` in the window the status is ``not_enough_data`` and there is no score
  (as TikTok Shop's published shop score does below 30 orders in 90 days); the factors are
  still shown.

Each deduction is a non-decreasing function of its count, rounded half-even once, so the score
is monotone (never higher) in every bad signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

RULE_VERSION = "trust-1"
FULL_CP = 500
PRIOR_ORDERS = 30
PENALTY_FULL = 12  # points in force at which the penalty factor takes its whole weight
FLAGS_FULL = 2


@dataclass(frozen=True)
class RateFactor:
    name: str
    weight_cp: int
    good: Fraction  # per order: nothing deducted at or below
    bad: Fraction  # per order: the whole weight deducted at or above


RATE_FACTORS = (
    RateFactor("refund", 80, Fraction(3, 100), Fraction(20, 100)),
    RateFactor("return", 40, Fraction(2, 100), Fraction(15, 100)),
    RateFactor("complaint", 80, Fraction(2, 1000), Fraction(3, 100)),
    RateFactor("negative_review", 60, Fraction(1, 100), Fraction(10, 100)),
    RateFactor("quality_incident", 60, Fraction(0), Fraction(1, 100)),
)
PENALTY_WEIGHT_CP = 120
FLAGS_WEIGHT_CP = 60
assert sum(f.weight_cp for f in RATE_FACTORS) + PENALTY_WEIGHT_CP + FLAGS_WEIGHT_CP == FULL_CP


@dataclass(frozen=True)
class Deduction:
    factor: str
    count: int  # events in the window (points for penalties, flags for fraud)
    rate: float | None  # raw count per order
    smoothed_rate: float | None
    deduction_cp: int


@dataclass(frozen=True)
class Outcome:
    status: str  # scored | not_enough_data
    score_cp: int | None
    orders: int
    deductions: tuple[Deduction, ...]

    @property
    def score(self) -> float | None:
        return None if self.score_cp is None else self.score_cp / 100


def _share(weight_cp: int, fraction: Fraction) -> int:
    clamped = min(max(fraction, Fraction(0)), Fraction(1))
    return round(weight_cp * clamped)  # Fraction rounds half to even


def evaluate(
    orders: int, counts: dict[str, int], penalty_points: int, open_flags: int, min_orders: int
) -> Outcome:
    deductions = []
    for f in RATE_FACTORS:
        count = counts.get(f.name, 0)
        smoothed = (count + f.good * PRIOR_ORDERS) / (orders + PRIOR_ORDERS)
        deductions.append(
            Deduction(
                f.name,
                count,
                count / orders if orders else None,
                float(smoothed),
                _share(f.weight_cp, (smoothed - f.good) / (f.bad - f.good)),
            )
        )
    deductions.append(
        Deduction(
            "penalties",
            penalty_points,
            None,
            None,
            _share(PENALTY_WEIGHT_CP, Fraction(penalty_points, PENALTY_FULL)),
        )
    )
    deductions.append(
        Deduction(
            "fraud_flags",
            open_flags,
            None,
            None,
            _share(FLAGS_WEIGHT_CP, Fraction(open_flags, FLAGS_FULL)),
        )
    )
    if orders < min_orders:
        return Outcome("not_enough_data", None, orders, tuple(deductions))
    return Outcome(
        "scored", FULL_CP - sum(d.deduction_cp for d in deductions), orders, tuple(deductions)
    )
