"""Traffic tables: platforms, placements, campaigns, links, policies, passcodes, postbacks."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hutong.store import Base, UTCDateTime, utcnow


class PlatformKind(enum.StrEnum):
    CONTENT = "content"
    SHELF = "shelf"
    MESSAGING = "messaging"


class Surface(enum.StrEnum):
    SPLASH = "splash"
    FEED = "feed"
    LIVE_ROOM = "live_room"
    SEARCH = "search"


class BillingModel(enum.StrEnum):
    CPM = "cpm"
    CPC = "cpc"
    CPS = "cps"


class TargetKind(enum.StrEnum):
    ACTIVITY = "activity"
    PRODUCT = "product"
    SHOP = "shop"
    LIVE_ROOM = "live_room"


class JumpMode(enum.StrEnum):
    WEB = "web"
    APP = "app"
    PASSCODE = "passcode"
    QR = "qr"


DEFAULT_CHAIN = [JumpMode.WEB.value, JumpMode.APP.value, JumpMode.PASSCODE.value, JumpMode.QR.value]


class Platform(Base):
    """A content or shelf platform; ``slug`` is public reference data, so it is the key."""

    __tablename__ = "platforms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80), default="")
    kind: Mapped[str] = mapped_column(String(16))
    app_schemes: Mapped[list[str]] = mapped_column(JSON, default=list)
    web_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    webview_markers: Mapped[list[str]] = mapped_column(JSON, default=list)
    deep_link_template: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Placement(Base):
    __tablename__ = "placements"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    surface: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    pricing_model: Mapped[str] = mapped_column(String(8))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    target_platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    billing_model: Mapped[str] = mapped_column(String(8))
    cpm_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    cpc_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    cps_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    click_window_days: Mapped[int] = mapped_column(Integer, default=7)
    view_window_days: Mapped[int] = mapped_column(Integer, default=1)
    # the contract's attribution model, which bills CPS (docs/attribution.md)
    attribution_model: Mapped[str] = mapped_column(String(16), default="last_click")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CampaignPlacement(Base):
    __tablename__ = "campaign_placements"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    placement_id: Mapped[str] = mapped_column(ForeignKey("placements.id"), primary_key=True)


class Creative(Base):
    __tablename__ = "creatives"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    placement_id: Mapped[str] = mapped_column(ForeignKey("placements.id"))
    name: Mapped[str] = mapped_column(String(120))
    asset_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Link(Base):
    """A tracked jump: one short code per creative or affiliate, one registered target."""

    __tablename__ = "links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    creative_id: Mapped[str | None] = mapped_column(ForeignKey("creatives.id"))
    placement_id: Mapped[str | None] = mapped_column(ForeignKey("placements.id"), index=True)
    affiliate_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    source_platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    target_platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"))
    surface: Mapped[str] = mapped_column(String(16))
    target_kind: Mapped[str] = mapped_column(String(16))
    web_url: Mapped[str] = mapped_column(Text)
    app_url: Mapped[str] = mapped_column(Text, default="")
    fixed_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fallback_chain: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_CHAIN))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LinkPolicy(Base):
    """Whether a source platform lets users jump to a target platform from a surface.

    Rows are never edited: a change retires the old row and adds a new one, so every click's
    ``policy_version`` still names the rule that decided it.
    """

    __tablename__ = "link_policies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, unique=True)
    source_platform_id: Mapped[str] = mapped_column(ForeignKey("platforms.id"), index=True)
    target_platform_id: Mapped[str | None] = mapped_column(ForeignKey("platforms.id"))
    surface: Mapped[str] = mapped_column(String(16))
    modes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    source_sentence: Mapped[str] = mapped_column(Text, default="")
    date_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    replaces_id: Mapped[str | None] = mapped_column(String(32))


class Passcode(Base):
    __tablename__ = "passcodes"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ChangeFeed(Base):
    """Every change the redirect workers cache; they poll ``max(seq)`` or LISTEN for it."""

    __tablename__ = "change_feed"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImpressionBatch(Base):
    __tablename__ = "impression_batches"
    __table_args__ = (UniqueConstraint("tenant_id", "batch_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    batch_key: Mapped[str] = mapped_column(String(80))
    received: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    bots: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PostbackEndpoint(Base):
    """Where a content platform wants its conversion postbacks, and the keys that sign them."""

    __tablename__ = "postback_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    keys: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Conversion(Base):
    """An order a shelf platform reported against a click token (one row per order)."""

    __tablename__ = "conversions"
    __table_args__ = (UniqueConstraint("reporter_id", "order_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    order_ref: Mapped[str] = mapped_column(String(80))
    click_id: Mapped[str] = mapped_column(String(40), index=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    buyer_hash: Mapped[str | None] = mapped_column(String(64))
    credited: Mapped[bool] = mapped_column(Boolean, default=True)
    credit_note: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
