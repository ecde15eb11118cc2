"""Request and response bodies of attribution."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from hutong.api.inputs import Input

ModelName = Literal["last_click", "first_click", "linear", "time_decay", "position_based", "markov"]
Channel = Literal["placement_id", "campaign_id", "creative_id", "source_platform", "affiliate_id"]
Share = Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)]


class RunIn(Input):
    start: dt.date  # the first Asia/Shanghai day of orders placed
    end: dt.date  # the day after the last
    models: Annotated[list[ModelName], Field(min_length=1, max_length=6)] = ["last_click"]
    engine: Literal["duckdb", "spark"] = "duckdb"
    half_life_days: Annotated[StrictFloat | StrictInt, Field(gt=0, le=365)] = 7
    first_share: Share = 0.4
    last_share: Share = 0.4
    markov_order: Annotated[StrictInt, Field(ge=1, le=3)] = 1
    collapse_repeats: StrictBool = True
    channel: Channel = "placement_id"


class RunOut(BaseModel):
    id: str
    engine: str
    models: list[str]
    params: dict[str, Any]
    start: dt.date
    end: dt.date
    state: str
    orders: int
    attributed_orders: int
    touchpoints: int
    gmv_fen: int
    attributed_fen: int
    by_tier: dict[str, int]
    markov_effects: dict[str, float]
    error: str
    started_at: dt.datetime
    finished_at: dt.datetime | None


class CompareRow(BaseModel):
    key: str
    orders: int
    touchpoints: int
    credits_fen: dict[str, int]


class CompareOut(BaseModel):
    run_id: str
    by: str
    models: list[str]
    rows: list[CompareRow]


class TouchOut(BaseModel):
    touch_id: str
    kind: str
    ts: dt.datetime
    tier: str
    campaign_id: str
    placement_id: str
    creative_id: str
    affiliate_id: str
    source_platform: str
    credits_fen: dict[str, int]


class JourneyOut(BaseModel):
    run_id: str
    order_id: str
    paid_fen: int
    touchpoints: list[TouchOut]
