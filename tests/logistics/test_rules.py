"""Carrier choice: each mode's order, and "fastest" by the measured record once it is large
enough (quoted days before that)."""

from __future__ import annotations

from typing import Any

import httpx

from hutong.logistics.models import CarrierRule
from hutong.logistics.protocol import Parcel, Quote
from hutong.logistics.rules import MIN_SAMPLE, Record, plan

PARCEL = Parcel("shp_1", 1000, "浙江省", "广东省", {})


class Quoting:
    """A carrier that only quotes (plan asks for nothing else)."""

    def __init__(self, fee_fen: int, days: int, ok: bool = True) -> None:
        self.answer = Quote(ok=ok, fee_fen=fee_fen, days=days, error="" if ok else "down")

    def quote(self, account: Any, parcel: Parcel, client: httpx.Client) -> Quote:
        return self.answer


CARRIERS: dict[str, Any] = {
    "sf": Quoting(2_300, 1),
    "zto": Quoting(700, 3),
    "jd": Quoting(1_600, 2),
    "cainiao": Quoting(0, 0, ok=False),
}
ACCOUNTS: dict[str, Any] = dict.fromkeys(CARRIERS)
ACCEPTED = sorted(CARRIERS)


def carriers_of(rule: CarrierRule | None, stats: dict[str, Record] | None = None) -> list[str]:
    with httpx.Client() as client:
        return [
            c.carrier for c in plan(rule, ACCEPTED, PARCEL, ACCOUNTS, CARRIERS, client, stats or {})
        ]


def record(carrier: str, delivered: int, days: float) -> Record:
    return Record(carrier, "广东省", delivered, delivered, days, 1.0, 0.0)


def test_each_mode_orders_the_candidates() -> None:
    assert carriers_of(CarrierRule(mode="fixed", carriers=["jd", "sf"])) == ["jd"]
    assert carriers_of(CarrierRule(mode="preference", carriers=["sf", "pdd", "zto"])) == [
        "sf",
        "zto",
    ]
    assert carriers_of(CarrierRule(mode="cheapest", carriers=[])) == [
        "zto",
        "jd",
        "sf",
    ]  # cainiao down
    assert carriers_of(None) == ACCEPTED  # no rule: every accepted carrier, in name order


def test_fastest_trusts_the_record_only_once_it_is_large_enough() -> None:
    fastest = CarrierRule(mode="fastest", carriers=["sf", "zto", "jd"])
    assert carriers_of(fastest) == ["sf", "jd", "zto"]  # quoted days
    measured = {"sf": record("sf", MIN_SAMPLE, 3.5), "zto": record("zto", MIN_SAMPLE, 1.2)}
    assert carriers_of(fastest, measured) == ["zto", "jd", "sf"]  # SF is slow in practice here
    thin = {"zto": record("zto", MIN_SAMPLE - 1, 0.5)}
    assert carriers_of(fastest, thin) == ["sf", "jd", "zto"]  # too few parcels to believe
