"""Request and response bodies of the payments API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, StrictInt, StrictStr

from hutong.api.inputs import Input, PositiveFen

ProviderName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,15}$")]


class AccountIn(Input):
    provider: ProviderName
    settings: Annotated[
        dict[StrictStr, Annotated[StrictStr, Field(max_length=8000)]], Field(max_length=20)
    ]
    gateway_url: AnyHttpUrl


class AccountOut(BaseModel):
    id: str
    seller_id: str
    provider: str
    merchant_key: str
    settings: dict[str, str]  # public settings only: secrets are never returned
    secret_settings: list[str]
    gateway_url: str
    active: bool


class PayIn(Input):
    provider: ProviderName


class PaymentOut(BaseModel):
    id: str
    order_id: str
    provider: str
    phase: str
    out_trade_no: str
    amount_fen: int
    currency: str
    state: str
    pay_url: str
    provider_txn_id: str
    refunded_fen: int
    applied: bool
    error: str
    created_at: dt.datetime
    expires_at: dt.datetime
    succeeded_at: dt.datetime | None


class RefundIn(Input):
    amount_fen: PositiveFen
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)] = "refund"


class RefundOut(BaseModel):
    id: str
    order_id: str
    payment_id: str
    out_refund_no: str
    amount_fen: int
    reason: str
    state: str
    provider_refund_id: str
    error: str
    created_at: dt.datetime
    succeeded_at: dt.datetime | None


class NoticeOut(BaseModel):
    id: int
    provider: str
    kind: str
    status: str
    outcome: str
    payment_id: str | None
    refund_id: str | None
    received_at: dt.datetime


class PlatformLineIn(Input):
    """One line of the selling platform's settlement report."""

    reference: Annotated[
        StrictStr, Field(min_length=1, max_length=64)
    ]  # out_trade_no / out_refund_no
    kind: Annotated[StrictStr, Field(pattern=r"^(payment|refund)$")]
    amount_fen: PositiveFen
    provider_fee_fen: Annotated[StrictInt, Field(ge=-(10**12), le=10**12)] = 0
    commission_fen: Annotated[StrictInt, Field(ge=-(10**12), le=10**12)] = 0
    net_fen: Annotated[StrictInt, Field(ge=-(10**15), le=10**15)] | None = None


class ReconcileIn(Input):
    provider: ProviderName
    day: dt.date
    platform_report: Annotated[list[PlatformLineIn], Field(max_length=100_000)] | None = None


class ReconciliationOut(BaseModel):
    id: str
    provider: str
    day: str
    matched: int
    mismatches: list[dict[str, Any]]
    totals: dict[str, Any]
    with_platform: bool
    created_at: dt.datetime
