"""Request and response bodies of the commerce API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from hutong.api.inputs import Input, ObjectId, PositiveFen

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Quantity = Annotated[StrictInt, Field(ge=1, le=10_000)]
StockCount = Annotated[StrictInt, Field(ge=0, le=10**9)]


class PresaleIn(Input):
    deposit_fen: PositiveFen
    final_starts_at: AwareDatetime
    final_ends_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> PresaleIn:
        if self.final_ends_at <= self.final_starts_at:
            raise ValueError("final_ends_at must be after final_starts_at")
        return self


class SkuIn(Input):
    code: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    title: Text
    price_fen: PositiveFen
    stock: StockCount = 0
    presale: PresaleIn | None = None

    @model_validator(mode="after")
    def _deposit_below_price(self) -> SkuIn:
        if self.presale is not None and self.presale.deposit_fen >= self.price_fen:
            raise ValueError("a presale deposit must be less than the price")
        return self


class ProductIn(Input):
    title: Text
    skus: Annotated[list[SkuIn], Field(min_length=1, max_length=100)]


class SkuOut(BaseModel):
    id: str
    product_id: str
    code: str
    title: str
    price_fen: int
    currency: str
    stock_available: int
    stock_reserved: int
    stock_sold: int
    presale_deposit_fen: int | None
    presale_final_starts_at: dt.datetime | None
    presale_final_ends_at: dt.datetime | None


class ProductOut(BaseModel):
    id: str
    seller_id: str
    platform_id: str
    title: str
    active: bool
    skus: list[SkuOut]


class StockIn(Input):
    add: Annotated[StrictInt, Field(ge=1, le=10**9)]


class LineIn(Input):
    sku_id: ObjectId
    quantity: Quantity


class AddressIn(Input):
    name: Annotated[StrictStr, Field(min_length=1, max_length=60)]
    phone: Annotated[StrictStr, Field(pattern=r"^\+?[0-9 -]{5,20}$")]
    province: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    city: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    district: Annotated[StrictStr, Field(max_length=32)] = ""
    address: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class OrderIn(Input):
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=50)]
    buyer_ref: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    device_ref: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = None
    ship_to: AddressIn
    click_token: Annotated[StrictStr, Field(min_length=10, max_length=200)] | None = None
    external_ref: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _distinct_skus(self) -> OrderIn:
        if len({line.sku_id for line in self.lines}) != len(self.lines):
            raise ValueError("each sku may appear on one line only")
        return self


class CancelIn(Input):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)] = "cancelled by the seller"


class LineOut(BaseModel):
    id: str
    sku_id: str
    quantity: int
    unit_price_fen: int
    total_fen: int


class EventOut(BaseModel):
    from_state: str | None
    to_state: str
    cause: str
    detail: dict[str, Any]
    at: dt.datetime


class OrderOut(BaseModel):
    id: str
    seller_id: str
    platform_id: str
    external_ref: str | None
    state: str
    currency: str
    total_fen: int
    deposit_fen: int
    paid_fen: int
    refunded_fen: int
    presale: bool
    organic: bool
    click_id: str | None
    campaign_id: str | None
    region: str
    buyer_hash: str | None = None  # only for the seller side
    ship_to: dict[str, str] | None = None  # masked; only for the seller side
    payment_due_at: dt.datetime
    final_due_from: dt.datetime | None
    final_due_until: dt.datetime | None
    paid_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[LineOut]
    events: list[EventOut] = []


class TermsIn(Input):
    payment_timeout_minutes: Annotated[StrictInt, Field(ge=1, le=7 * 24 * 60)]
    deposit_rule: Annotated[StrictStr, Field(pattern=r"^(forfeit|refund)$")]
    source: Annotated[StrictStr, Field(max_length=500)] = ""


class TermsOut(BaseModel):
    platform_id: str
    payment_timeout_minutes: int
    deposit_rule: str
    source: str


class InteropOut(BaseModel):
    id: str
    platform_id: str
    kind: str
    partner: str
    allowed: bool
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    source_sentence: str
    date_assumed: bool
    note: str


class InteropIn(Input):
    platform_id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    kind: Annotated[StrictStr, Field(pattern=r"^(payment|carrier)$")]
    partner: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    allowed: StrictBool
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    source_sentence: Annotated[StrictStr, Field(max_length=1000)] = ""
    note: Annotated[StrictStr, Field(max_length=500)] = ""


class AcceptsOut(BaseModel):
    platform_id: str
    at: dt.datetime
    payment: list[str]
    carrier: list[str]


class ReturnLineIn(Input):
    sku_id: ObjectId
    quantity: Quantity


class AfterSaleIn(Input):
    kind: Annotated[StrictStr, Field(pattern=r"^(refund_only|return_refund)$")]
    amount_fen: PositiveFen
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    lines: Annotated[list[ReturnLineIn], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _returns_name_goods(self) -> AfterSaleIn:
        if self.kind == "return_refund" and not self.lines:
            raise ValueError("a return names the goods coming back (lines)")
        return self


class DecisionIn(Input):
    note: Annotated[StrictStr, Field(max_length=200)] = ""


class AfterSaleOut(BaseModel):
    id: str
    order_id: str
    kind: str
    amount_fen: int
    reason: str
    lines: list[dict[str, Any]]
    state: str
    note: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
