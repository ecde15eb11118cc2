"""Request and response bodies of the logistics API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, StrictInt, StrictStr

from hutong.api.inputs import Input

CarrierName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,15}$")]
Settings = Annotated[
    dict[StrictStr, Annotated[StrictStr, Field(max_length=8000)]], Field(max_length=20)
]


class CarrierAccountIn(Input):
    carrier: CarrierName
    settings: Settings
    gateway_url: AnyHttpUrl


class CarrierAccountOut(BaseModel):
    id: str
    carrier: str
    customer_key: str
    settings: dict[str, str]
    gateway_url: str
    active: bool


class PlatformAccountIn(Input):
    platform_id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    settings: Settings
    gateway_url: AnyHttpUrl


class PlatformAccountOut(BaseModel):
    id: str
    platform_id: str
    settings: dict[str, str]
    gateway_url: str


class RuleIn(Input):
    mode: Annotated[StrictStr, Field(pattern=r"^(fixed|cheapest|fastest|preference)$")]
    carriers: Annotated[list[CarrierName], Field(max_length=10)] = []
    ship_from: Annotated[StrictStr, Field(min_length=2, max_length=32)] = "浙江省"


class RuleOut(BaseModel):
    mode: str
    carriers: list[str]
    ship_from: str


class ShipIn(Input):
    carrier: CarrierName | None = None
    weight_g: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1000


class EventOut(BaseModel):
    status: str
    code: str
    text: str
    location: str
    occurred_at: dt.datetime
    source: str


class ShipmentOut(BaseModel):
    id: str
    order_id: str
    carrier: str
    waybill_no: str | None
    status: str
    chosen_by: str
    quoted_fee_fen: int | None
    promised_days: int | None
    error: str
    stale: bool
    written_back: bool
    writeback_error: str
    created_at: dt.datetime
    picked_up_at: dt.datetime | None
    delivered_at: dt.datetime | None
    events: list[EventOut] = []


class RecordOut(BaseModel):
    carrier: str
    region: str
    shipments: int
    delivered: int
    median_days: float | None
    on_time_rate: float | None
    exception_rate: float
