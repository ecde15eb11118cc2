"""Request and response bodies of settlement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from hutong.api.inputs import Input

Bp = Annotated[StrictInt, Field(ge=0, le=10_000)]


class SettleIn(Input):
    engine: Literal["duckdb", "spark"] = "duckdb"


class SettleOut(BaseModel):
    # the days recounted: [from, to)
    from_: dt.date = Field(alias="from")
    to: dt.date
    entries: int
    charged_fen: int
    capped_fen: int
    commissions: dict[str, int]

    model_config = {"populate_by_name": True}


class PeriodOut(BaseModel):
    id: str
    state: str
    closed_at: dt.datetime | None


class StatementLine(BaseModel):
    date: dt.date
    kind: str
    account: str
    campaign_id: str
    order_id: str
    memo: str
    amount_fen: int


class StatementOut(BaseModel):
    tenant_id: str
    period_id: str
    state: str
    opening_fen: int
    totals: dict[str, int]
    net_fen: int
    closing_fen: int
    lines: list[StatementLine]


class BalanceOut(BaseModel):
    tenant_id: str
    accounts: dict[str, int]
    total_fen: int  # positive: the tenant owes; negative: it is owed


class CommissionOut(BaseModel):
    id: str
    order_id: str
    campaign_id: str
    payee_id: str
    buyer_id: str
    role: str
    model: str
    credit_fen: int
    rate_bp: int
    share_bp: int
    owed_fen: int
    booked_fen: int
    settled_fen: int
    state: str
    hold_reason: str
    paid_at: dt.datetime
    confirmed_at: dt.datetime | None
    settle_after: dt.datetime | None
    settled_period: str | None


class RateIn(Input):
    affiliate_id: StrictStr | None = None  # none: the platform's default for its affiliates
    affiliate_share_bp: Bp
    platform_tenant_id: StrictStr | None = None  # the operator names the platform


class RateOut(BaseModel):
    platform_tenant_id: str
    affiliate_id: str | None
    affiliate_share_bp: int


class HoldIn(Input):
    tenant_id: StrictStr
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class ReleaseIn(Input):
    tenant_id: StrictStr


class HoldOut(BaseModel):
    tenant_id: str
    reason: str
    held_at: dt.datetime
