"""Request and response bodies of trust."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, StrictStr

from hutong.api.inputs import Fen, Input

SignalKindIn = Literal[
    "order", "refund", "return", "complaint", "negative_review", "quality_incident"
]


class SignalIn(Input):
    streamer_id: StrictStr
    kind: SignalKindIn
    ref: Annotated[StrictStr, Field(min_length=1, max_length=80)]  # the reporter's own id
    occurred_at: AwareDatetime
    count: Annotated[StrictInt, Field(ge=1, le=10_000_000)] = 1  # a day's orders in one row
    amount_fen: Fen = 0  # GMV of the orders, or the refund
    product_ref: Annotated[StrictStr, Field(max_length=64)] = ""
    detail: Annotated[StrictStr, Field(max_length=2_000)] = ""


class SignalsIn(Input):
    signals: Annotated[list[SignalIn], Field(min_length=1, max_length=5_000)]


class SignalsOut(BaseModel):
    received: int
    recorded: int  # new (a signal already recorded under its ref is not recorded twice)


class LinkedAccountsIn(Input):
    """Buyer references of accounts the platform knows to be the streamer's own."""

    accounts: Annotated[
        list[Annotated[StrictStr, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=1_000),
    ]


class LinkedAccountsOut(BaseModel):
    streamer_id: str
    linked: int


class PolicyIn(Input):
    platform_id: StrictStr | None = None  # the operator names the platform
    alert_below: Annotated[float, Field(ge=0, le=5)] = 3.5
    hold_below: Annotated[float, Field(ge=0, le=5)] = 3.0
    min_orders: Annotated[StrictInt, Field(ge=1, le=100_000)] = 30
    window_days: Annotated[StrictInt, Field(ge=1, le=365)] = 90
    endpoint_id: StrictStr | None = None  # a postback endpoint: alerts go there, signed


class PolicyOut(BaseModel):
    platform_id: str
    alert_below: float
    hold_below: float
    min_orders: int
    window_days: int
    endpoint_id: str | None


class FactorOut(BaseModel):
    factor: str
    count: int
    rate: float | None
    smoothed_rate: float | None
    deduction: float  # points taken off 5
    deduction_cp: int  # the same in hundredths: they sum to 500 - score_cp


class ScoreOut(BaseModel):
    streamer_id: str
    as_of: dt.datetime
    rule_version: str
    status: Literal["scored", "not_enough_data"]
    score: float | None
    score_cp: int | None
    orders: int
    gmv_fen: int
    factors: list[FactorOut]
    computed_at: dt.datetime


class RecomputeIn(Input):
    as_of: AwareDatetime | None = None  # default: now
    streamer_ids: Annotated[list[StrictStr], Field(max_length=10_000)] | None = None


class FlagOut(BaseModel):
    id: str
    streamer_id: str
    kind: str
    state: str
    evidence: dict[str, Any]
    note: str
    first_seen_at: dt.datetime
    updated_at: dt.datetime


class DismissIn(Input):
    note: Annotated[StrictStr, Field(min_length=1, max_length=2_000)]


class AlertOut(BaseModel):
    id: str
    streamer_id: str
    platform_id: str
    kind: str
    score: float | None
    threshold: float
    message: str
    at: dt.datetime


class RankedOut(BaseModel):
    streamer_id: str
    handle: str
    platform_id: str
    gmv_fen: int
    status: str
    score: float | None
    trust_weight: float
    weighted_gmv_fen: int


class SignalSummaryOut(BaseModel):
    """A streamer's reported signals in a window, per product and kind."""

    product_ref: str  # "" for signals about the streamer, not one product
    kind: str
    count: int
    amount_fen: int
