"""Request and response bodies of settlement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, StrictStr

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
    source: str  # hutong (its own attribution) or the alliance that reported the order


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


Settings = Annotated[
    dict[StrictStr, Annotated[StrictStr, Field(max_length=512)]], Field(max_length=16)
]
Url = Annotated[StrictStr, Field(pattern=r"^https?://[^\s]{1,500}$")]


class AllianceAccountIn(Input):
    platform: Literal["taobao", "jd"]
    payer_id: StrictStr  # the shelf platform's tenant, who pays the commissions
    settings: Settings
    gateway_url: Url
    owner_id: StrictStr | None = None  # the operator names the content platform
    start_at: AwareDatetime | None = None  # read lines updated from here (default: now)


class AllianceAccountOut(BaseModel):
    id: str
    platform: str
    owner_id: str
    payer_id: str
    publisher_key: str
    gateway_url: str
    polled_through: dt.datetime
    window_seconds: int
    last_error: str


class PositionIn(Input):
    placement_id: StrictStr | None = None
    affiliate_id: StrictStr | None = None


class PositionOut(BaseModel):
    account_id: str
    position_id: str
    placement_id: str | None
    affiliate_id: str | None


class PollIn(Input):
    until: AwareDatetime | None = None  # catch up to here (default: now); a backfill stops early
    max_windows: Annotated[StrictInt, Field(ge=1, le=5_000)] = 500


class PollOut(BaseModel):
    account_id: str
    windows: int
    pages: int
    lines: int
    changed: int
    window_seconds: int
    polled_through: dt.datetime | None
    errors: list[str]


class AllianceOrderOut(BaseModel):
    id: str
    account_id: str
    platform: str
    order_ref: str
    parent_ref: str
    position_id: str
    raw_status: str
    state: str
    amount_fen: int
    commission_fen: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    settled_at: dt.datetime | None
    modified_at: dt.datetime
