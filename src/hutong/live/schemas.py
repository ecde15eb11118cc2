"""Request and response bodies of live."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, NotRequired

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

from hutong.api.inputs import Fen, Input, Name

Handle = Annotated[StrictStr, Field(pattern=r"^[\w.\-]{1,64}$")]
Text200 = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Note = Annotated[StrictStr, Field(max_length=2_000)]


class StreamerIn(Input):
    handle: Handle
    name: Name
    agency: Annotated[StrictStr, Field(max_length=120)] = ""
    tenant_id: StrictStr | None = None  # the streamer's own tenant, to see its record
    platform_id: StrictStr | None = None  # the operator names the platform


class StreamerOut(BaseModel):
    id: str
    platform_id: str
    handle: str
    name: str
    agency: str
    tenant_id: str | None
    penalty_points: int  # penalties in force
    created_at: dt.datetime


class ProductIn(Input):
    product_ref: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    title: Text200
    price_fen: Fen
    sku_id: StrictStr | None = None


class SessionIn(Input):
    streamer_id: StrictStr
    title: Text200
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    products: Annotated[list[ProductIn], Field(max_length=2_000)] = []


class ProductOut(BaseModel):
    product_ref: str
    position: int
    title: str
    price_fen: int
    sku_id: str | None


class SessionOut(BaseModel):
    id: str
    platform_id: str
    streamer_id: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    state: str
    products: list[ProductOut]


class PenaltyIn(Input):
    points: Annotated[StrictInt, Field(ge=1, le=1_000)]
    code: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_.\-]{1,40}$")]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=2_000)]
    occurred_at: AwareDatetime


class DecisionIn(Input):
    note: Note = ""


class PenaltyEventOut(BaseModel):
    from_state: str
    to_state: str
    note: str
    by_tenant: str
    at: dt.datetime


class PenaltyOut(BaseModel):
    id: str
    streamer_id: str
    platform_id: str
    points: int
    code: str
    reason: str
    occurred_at: dt.datetime
    state: str
    counts: bool
    history: list[PenaltyEventOut]


EventKind = Literal["enter", "leave", "like", "comment", "share", "shown", "order", "refund"]
Ref = Annotated[StrictStr, Field(min_length=1, max_length=64)]
EpochMs = Annotated[StrictInt, Field(ge=946_684_800_000, le=4_102_444_800_000)]  # 2000..2100


class LiveEventIn(TypedDict):
    """One platform event; the platform's own ids, the time in epoch milliseconds.

    A TypedDict, not a model: a batch holds up to 10,000 events, and building a model instance
    for each was most of the intake's time (3.0 µs an event against 0.85; docs/performance.md).
    What an event's kind needs (a viewer, an order_ref) is checked by the intake.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    event_id: Ref
    kind: EventKind
    ts_ms: EpochMs
    viewer: NotRequired[Annotated[StrictStr, Field(max_length=64)]]  # enter/leave: who
    product_ref: NotRequired[Annotated[StrictStr, Field(max_length=64)]]
    order_ref: NotRequired[Annotated[StrictStr, Field(max_length=64)]]  # order/refund: which
    amount_fen: NotRequired[Fen]


class LiveEventsIn(Input):
    events: Annotated[list[LiveEventIn], Field(min_length=1, max_length=10_000)]


class LiveEventsOut(BaseModel):
    received: int
    applied: int  # events not seen before
    duplicates: int


class ProductCounts(BaseModel):
    shown: int
    orders: int
    gmv_fen: int
    refunds: int
    refund_fen: int
    per_minute: dict[int, dict[str, int]]


class MinuteCounts(BaseModel):
    minute: int  # minutes since the session's start
    concurrent: int  # viewers present at the minute's end
    views: int
    likes: int
    comments: int
    shares: int
    orders: int
    gmv_fen: int
    refunds: int


class CountersOut(BaseModel):
    session_id: str
    applied: int  # events counted so far
    views: int
    current_viewers: int
    peak_viewers: int
    peak_minute: int | None
    likes: int
    comments: int
    shares: int
    orders: int
    gmv_fen: int
    refunds: int
    refund_fen: int
    products: dict[str, ProductCounts]
    per_minute: list[MinuteCounts]


class ReportProduct(BaseModel):
    product_ref: str
    title: str
    orders: int
    gmv_fen: int
    refunds: int
    refund_fen: int
    gmv_share: float  # of the session's GMV


class ReportOut(BaseModel):
    """A session afterwards: the totals, the shape of the audience and the best sellers."""

    session_id: str
    streamer_id: str
    title: str
    state: str
    minutes: int
    views: int
    peak_viewers: int
    peak_minute: int | None
    orders: int
    gmv_fen: int
    refunds: int
    refund_fen: int
    net_gmv_fen: int
    average_order_fen: int  # GMV // orders (floor)
    gmv_per_thousand_views_fen: int  # GMV * 1000 // views (floor)
    conversion: float  # orders / views
    refund_rate: float  # refunds / orders
    products_sold: int
    top_products: list[ReportProduct]
    per_minute: list[MinuteCounts]
