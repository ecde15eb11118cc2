"""Request and response bodies of live."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StrictStr

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
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
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
    occurred_at: dt.datetime


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
