"""Request and response bodies of the traffic API (strict: a ``false`` is not a number)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StrictInt, StrictStr

from hutong.api.inputs import Fen, Input, Name, Slug
from hutong.traffic.models import BillingModel, JumpMode, PlatformKind, Surface, TargetKind

# the models a contract may bill by: Markov is for analysis (it moves as data arrives)
BillingAttribution = Literal["last_click", "first_click", "linear", "time_decay", "position_based"]


class PlatformIn(Input):
    id: Slug
    name: Name
    name_zh: Annotated[StrictStr, Field(max_length=80)] = ""
    kind: PlatformKind
    app_schemes: list[Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9+.-]{0,40}$")]] = []
    web_domains: list[Annotated[StrictStr, Field(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")]] = []
    webview_markers: list[Annotated[StrictStr, Field(min_length=3, max_length=40)]] = []
    deep_link_template: Annotated[StrictStr, Field(max_length=300)] = ""


class PlatformOut(BaseModel):
    id: str
    name: str
    name_zh: str
    kind: str
    app_schemes: list[str]
    web_domains: list[str]
    webview_markers: list[str]
    deep_link_template: str


class PlacementIn(Input):
    surface: Surface
    name: Name
    pricing_model: BillingModel
    price_fen: Fen
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "CNY"


class PlacementOut(BaseModel):
    id: str
    tenant_id: str
    platform_id: str
    surface: str
    name: str
    pricing_model: str
    price_fen: int
    currency: str
    active: bool


class CampaignIn(Input):
    name: Name
    target_platform_id: Slug
    placement_ids: Annotated[list[StrictStr], Field(min_length=1, max_length=100)]
    billing_model: BillingModel
    cpm_fen: Fen = 0
    cpc_fen: Fen = 0
    cps_rate_bp: Annotated[StrictInt, Field(ge=0, le=10000)] = 0
    budget_fen: Fen
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    click_window_days: Annotated[StrictInt, Field(ge=0, le=90)] = 7
    view_window_days: Annotated[StrictInt, Field(ge=0, le=30)] = 1
    attribution_model: BillingAttribution = "last_click"


class CampaignOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    target_platform_id: str
    placement_ids: list[str]
    billing_model: str
    cpm_fen: int
    cpc_fen: int
    cps_rate_bp: int
    budget_fen: int
    currency: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    click_window_days: int
    view_window_days: int
    attribution_model: str


class CreativeIn(Input):
    placement_id: StrictStr
    name: Name
    asset_url: Annotated[StrictStr, Field(max_length=500)] = ""


class CreativeOut(BaseModel):
    id: str
    campaign_id: str
    placement_id: str
    name: str
    asset_url: str


class LinkIn(Input):
    campaign_id: StrictStr
    placement_id: StrictStr
    creative_id: StrictStr | None = None
    affiliate_id: StrictStr | None = None
    target_kind: TargetKind
    web_url: Annotated[StrictStr, Field(min_length=8, max_length=2000)]
    app_url: Annotated[StrictStr, Field(max_length=2000)] = ""
    fixed_params: dict[
        Annotated[StrictStr, Field(max_length=64)], Annotated[StrictStr, Field(max_length=256)]
    ] = Field(default_factory=dict, max_length=20)
    fallback_chain: Annotated[list[JumpMode], Field(min_length=1, max_length=4)] | None = None
    code: Annotated[StrictStr, Field(pattern=r"^[0-9A-Za-z_-]{3,32}$")] | None = None


class LinkPatch(Input):
    active: StrictBool


class LinkOut(BaseModel):
    id: str
    code: str
    short_url: str
    campaign_id: str
    placement_id: str | None
    creative_id: str | None
    affiliate_id: str | None
    source_platform_id: str
    target_platform_id: str
    surface: str
    target_kind: str
    web_url: str
    app_url: str
    fixed_params: dict[str, Any]
    fallback_chain: list[str]
    active: bool
    passcode: str | None = None
    passcode_expires_at: dt.datetime | None = None


class PasscodeIn(Input):
    ttl_days: Annotated[StrictInt, Field(ge=1, le=365)] = 30


class PasscodeOut(BaseModel):
    passcode: str
    text: str
    link_id: str
    expires_at: dt.datetime


class ResolveIn(Input):
    text: Annotated[StrictStr, Field(min_length=1, max_length=4096)]


class ResolveOut(BaseModel):
    code: str
    passcode: str
    click_id: str
    click_token: str
    location: str
    target_platform: str


class PolicyIn(Input):
    source_platform_id: Slug
    target_platform_id: Slug | None = None
    surface: Surface | None = None
    modes: Annotated[list[JumpMode], Field(max_length=4)]
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    reason: Annotated[StrictStr, Field(max_length=2000)] = ""
    source_sentence: Annotated[StrictStr, Field(max_length=2000)] = ""
    date_assumed: StrictBool = False
    replaces_id: StrictStr | None = None


class PolicyOut(BaseModel):
    id: str
    version: int
    source_platform_id: str
    target_platform_id: str | None
    surface: str
    modes: list[str]
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    reason: str
    source_sentence: str
    date_assumed: bool
    retired_at: dt.datetime | None
    replaces_id: str | None


class PolicyCheckOut(BaseModel):
    source: str
    target: str
    surface: str
    at: dt.datetime
    allowed: bool
    modes: list[str]
    policy_version: int
    rule: PolicyOut | None
    why: str


class ImpressionIn(Input):
    placement_id: StrictStr
    ts: AwareDatetime
    campaign_id: StrictStr | None = None
    creative_id: StrictStr | None = None
    link_code: StrictStr | None = None
    device_id: Annotated[StrictStr, Field(max_length=128)] | None = None
    user_agent: Annotated[StrictStr, Field(max_length=512)] = ""


class ImpressionBatchIn(Input):
    batch_key: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    impressions: Annotated[list[ImpressionIn], Field(min_length=1, max_length=10_000)]


class ImpressionBatchOut(BaseModel):
    batch_id: str
    batch_key: str
    received: int
    accepted: int
    duplicates: int
    bots: int
    replayed: bool = False


class ConversionIn(Input):
    click_token: Annotated[StrictStr, Field(min_length=10, max_length=200)]
    order_ref: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    amount_fen: Fen
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    occurred_at: AwareDatetime
    buyer_ref: Annotated[StrictStr, Field(max_length=128)] | None = None


class ConversionOut(BaseModel):
    id: str
    order_ref: str
    click_id: str
    link_id: str
    campaign_id: str
    seller_id: str
    amount_fen: int
    currency: str
    occurred_at: dt.datetime
    credited: bool
    buyer_hash: str | None = None


class EndpointIn(Input):
    url: Annotated[StrictStr, Field(min_length=8, max_length=2000)]


class EndpointOut(BaseModel):
    id: str
    url: str
    active: bool
    key_ids: list[str]
    secret: str | None = None


class ClickOut(BaseModel):
    click_id: str
    ts: dt.datetime
    code: str
    campaign_id: str
    placement_id: str
    source_platform: str
    app_platform: str
    target_platform: str
    surface: str
    via: str
    mode: str
    allowed: bool
    policy_version: int
    device: str
    duplicate: bool
    bot: bool
    bot_reason: str
    billable: bool
