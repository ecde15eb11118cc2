"""The only code that changes traffic state; the API and the CLI both call it.

Every change a redirect worker caches is recorded in ``change_feed`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hutong.errors import Forbidden, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.store import utcnow
from hutong.tenants.models import Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic import queries
from hutong.traffic.cache import record_change
from hutong.traffic.codes import is_valid_code, new_link_code, new_passcode
from hutong.traffic.errors import CodeTaken, PlatformNotFound, WrongPlatform
from hutong.traffic.models import (
    DEFAULT_CHAIN,
    Campaign,
    CampaignPlacement,
    Creative,
    Link,
    LinkPolicy,
    Passcode,
    Placement,
    Platform,
    PlatformKind,
)
from hutong.traffic.policy import ANY
from hutong.traffic.schemas import CampaignIn, CreativeIn, LinkIn, PlacementIn, PlatformIn, PolicyIn
from hutong.traffic.urls import judge_app_target, judge_web_target

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"
BUYER_KINDS = (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)


# -- platforms -----------------------------------------------------------------------------
def platform(session: Session, slug: str) -> Platform:
    found = session.get(Platform, slug)
    if found is None:
        raise PlatformNotFound(f"platform {slug!r} not found")
    return found


def upsert_platform(session: Session, data: PlatformIn) -> Platform:
    """Create or update a platform (operators only, checked by the caller)."""
    existing = session.get(Platform, data.id)
    values = data.model_dump()
    values["kind"] = data.kind.value
    if existing is None:
        existing = Platform(**values)
        session.add(existing)
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    session.flush()
    record_change(session, "platform", data.id)
    return existing


def seed_platforms(session: Session) -> int:
    """Seed the article's platforms and a tenant for each; returns how many were new."""
    raw = json.loads((SEED_DIR / "platforms.json").read_text(encoding="utf-8"))
    created = 0
    for item in raw["platforms"]:
        if session.get(Platform, item["id"]) is None:
            upsert_platform(session, PlatformIn.model_validate(item))
            created += 1
        kind = {"content": TenantKind.CONTENT_PLATFORM, "shelf": TenantKind.SHELF_PLATFORM}.get(
            item["kind"]
        )
        if kind is not None:
            taken = session.scalar(select(Tenant.id).where(Tenant.platform_id == item["id"]))
            if taken is None:
                session.add(
                    Tenant(
                        id=new_id("tnt"), kind=kind.value, name=item["name"], platform_id=item["id"]
                    )
                )
    session.flush()
    return created


# -- placements and campaigns --------------------------------------------------------------
def create_placement(session: Session, who: Principal, data: PlacementIn) -> Placement:
    """A content platform offers a placement on its own platform."""
    who.require_admin()
    if who.kind is not TenantKind.CONTENT_PLATFORM or who.platform_id is None:
        raise Forbidden("only a content platform tenant sells placements")
    placement = Placement(
        id=new_id("plc"),
        tenant_id=who.tenant_id,
        platform_id=who.platform_id,
        surface=data.surface.value,
        name=data.name,
        pricing_model=data.pricing_model.value,
        price_fen=data.price_fen,
        currency=data.currency,
    )
    session.add(placement)
    session.flush()
    return placement


def _buyer_platform(session: Session, who: Principal) -> str | None:
    """The shelf platform a buyer belongs to (a merchant's is its parent's)."""
    if who.kind is TenantKind.SHELF_PLATFORM:
        return who.platform_id
    if who.kind is TenantKind.MERCHANT and who.parent_id:
        parent = session.get(Tenant, who.parent_id)
        return parent.platform_id if parent else None
    return None


def create_campaign(session: Session, who: Principal, data: CampaignIn) -> Campaign:
    """A shelf platform or merchant buys placements to send users to its target platform."""
    who.require_admin()
    if who.kind not in BUYER_KINDS:
        raise Forbidden("only a shelf platform or a merchant buys traffic")
    target = platform(session, data.target_platform_id)
    if target.kind != PlatformKind.SHELF.value:
        raise WrongPlatform(f"{target.id} is not a shelf platform")
    own = _buyer_platform(session, who)
    if own is not None and own != target.id:
        raise WrongPlatform(f"a tenant of {own} can only send users to {own}")
    if data.ends_at <= data.starts_at:
        raise InvalidInput("ends_at must be after starts_at")
    _check_pricing(data)
    placements = []
    for pid in dict.fromkeys(data.placement_ids):
        placement = session.get(Placement, pid)
        if placement is None or not placement.active:
            raise NotFound(f"placement {pid} not found")
        placements.append(placement)
    campaign = Campaign(
        id=new_id("cmp"),
        tenant_id=who.tenant_id,
        name=data.name,
        target_platform_id=target.id,
        billing_model=data.billing_model.value,
        cpm_fen=data.cpm_fen,
        cpc_fen=data.cpc_fen,
        cps_rate_bp=data.cps_rate_bp,
        budget_fen=data.budget_fen,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        click_window_days=data.click_window_days,
        view_window_days=data.view_window_days,
        attribution_model=data.attribution_model,
    )
    session.add(campaign)
    session.flush()
    for placement in placements:
        session.add(CampaignPlacement(campaign_id=campaign.id, placement_id=placement.id))
    session.flush()
    return campaign


def _check_pricing(data: CampaignIn) -> None:
    price = {"cpm": data.cpm_fen, "cpc": data.cpc_fen, "cps": data.cps_rate_bp}
    if price[data.billing_model.value] <= 0:
        field = {"cpm": "cpm_fen", "cpc": "cpc_fen", "cps": "cps_rate_bp"}[data.billing_model.value]
        raise InvalidInput(
            f"a {data.billing_model.value} campaign needs {field} > 0",
            errors=[{"loc": ["body", field], "type": "greater_than", "msg": "must be > 0"}],
        )


def add_creative(session: Session, who: Principal, campaign_id: str, data: CreativeIn) -> Creative:
    who.require_admin()
    campaign = queries.campaign_for(session, who, campaign_id)
    _campaign_placement(session, campaign, data.placement_id)
    creative = Creative(
        id=new_id("crv"),
        campaign_id=campaign.id,
        placement_id=data.placement_id,
        name=data.name,
        asset_url=data.asset_url,
    )
    session.add(creative)
    session.flush()
    return creative


def _campaign_placement(session: Session, campaign: Campaign, placement_id: str) -> Placement:
    bought = session.get(CampaignPlacement, (campaign.id, placement_id))
    placement = session.get(Placement, placement_id)
    if bought is None or placement is None:
        raise NotFound(f"placement {placement_id} is not part of campaign {campaign.id}")
    return placement


# -- links ---------------------------------------------------------------------------------
def create_link(session: Session, who: Principal, data: LinkIn, ttl_days: int) -> Link:
    """A tracked link to a target registered on the campaign's target platform.

    The target is judged by the host a browser would go to; any other host, scheme, port or
    user-info is refused (InvalidTarget), so no link can ever redirect off the platform.
    """
    who.require_admin()
    campaign = queries.campaign_for(session, who, data.campaign_id)
    placement = _campaign_placement(session, campaign, data.placement_id)
    if data.creative_id is not None:
        creative = session.get(Creative, data.creative_id)
        if creative is None or creative.campaign_id != campaign.id:
            raise NotFound(f"creative {data.creative_id} not found")
    if data.affiliate_id is not None:
        affiliate = session.get(Tenant, data.affiliate_id)
        if affiliate is None or affiliate.kind != TenantKind.STREAMER.value:
            raise NotFound(f"streamer {data.affiliate_id} not found")
    target = platform(session, campaign.target_platform_id)
    judged = judge_web_target(data.web_url, target.web_domains)
    app_url = judge_app_target(data.app_url, target.app_schemes) if data.app_url else ""
    code = data.code or _free_code(session)
    if data.code is not None:
        if not is_valid_code(code):
            raise InvalidInput("code must be 3-32 of [0-9A-Za-z_-]")
        if session.scalar(select(Link.id).where(Link.code == code)) is not None:
            raise CodeTaken(f"code {code!r} is taken")
    now = utcnow()
    link = Link(
        id=new_id("lnk"),
        code=code,
        campaign_id=campaign.id,
        creative_id=data.creative_id,
        placement_id=placement.id,
        affiliate_id=data.affiliate_id,
        source_platform_id=placement.platform_id,
        target_platform_id=target.id,
        surface=placement.surface,
        target_kind=data.target_kind.value,
        web_url=judged.href,
        app_url=app_url,
        fixed_params=dict(data.fixed_params),
        fallback_chain=[m.value for m in data.fallback_chain]
        if data.fallback_chain
        else list(DEFAULT_CHAIN),
        created_at=now,
        updated_at=now,
    )
    session.add(link)
    session.flush()
    _add_passcode(session, link, ttl_days)
    record_change(session, "link", link.id)
    return link


def _free_code(session: Session) -> str:
    for _ in range(10):
        code = new_link_code()
        if session.scalar(select(Link.id).where(Link.code == code)) is None:
            return code
    raise CodeTaken("could not find a free code; try again")


def set_link_active(session: Session, who: Principal, link_id: str, active: bool) -> Link:
    """Cut (or restore) a link; every redirect worker stops within one poll interval."""
    who.require_admin()
    link = queries.link_for(session, who, link_id, write=True)
    link.active = active
    link.updated_at = utcnow()
    record_change(session, "link", link.id)
    return link


def _add_passcode(session: Session, link: Link, ttl_days: int) -> Passcode:
    now = utcnow()
    for _ in range(5):
        code = new_passcode()
        if session.get(Passcode, code) is None:
            passcode = Passcode(
                code=code,
                link_id=link.id,
                created_at=now,
                expires_at=now + dt.timedelta(days=ttl_days),
            )
            session.add(passcode)
            session.flush()
            record_change(session, "passcode", link.id)
            return passcode
    raise CodeTaken("could not find a free passcode; try again")


def issue_passcode(session: Session, who: Principal, link_id: str, ttl_days: int) -> Passcode:
    who.require_admin()
    link = queries.link_for(session, who, link_id, write=True)
    return _add_passcode(session, link, ttl_days)


def renew_passcodes(session: Session, ttl_days: int, before: dt.timedelta) -> int:
    """Give each active link a fresh passcode before its newest one expires (worker job)."""
    now = utcnow()
    newest = (
        select(Passcode.link_id, func.max(Passcode.expires_at).label("expires"))
        .where(Passcode.revoked_at.is_(None))
        .group_by(Passcode.link_id)
        .subquery()
    )
    due = session.scalars(
        select(Link)
        .outerjoin(newest, newest.c.link_id == Link.id)
        .where(Link.active.is_(True))
        .where((newest.c.expires.is_(None)) | (newest.c.expires < now + before))
        .limit(1000)
    ).all()
    for link in due:
        _add_passcode(session, link, ttl_days)
    return len(due)


# -- policies ------------------------------------------------------------------------------
def _next_policy_version(session: Session) -> int:
    return int(session.scalar(select(func.max(LinkPolicy.version))) or 0) + 1


def add_policy(session: Session, who: Principal, data: PolicyIn) -> LinkPolicy:
    """Add a rule (operators, or a content platform for its own outbound links).

    With ``replaces_id`` the old rule is retired in the same transaction: rules are never
    edited, so the version a click recorded always names what decided it.
    """
    who.require_admin()
    if not who.is_operator and who.platform_id != data.source_platform_id:
        raise Forbidden("a platform may only set the policy of its own outbound links")
    platform(session, data.source_platform_id)
    if data.target_platform_id is not None:
        platform(session, data.target_platform_id)
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        raise InvalidInput("valid_to must be after valid_from")
    record_change(session, "policy", "*")  # takes the feed lock before the version is read
    replaced = None
    if data.replaces_id is not None:
        replaced = session.get(LinkPolicy, data.replaces_id)
        if replaced is None or replaced.retired_at is not None:
            raise NotFound(f"live policy {data.replaces_id} not found")
        if not who.is_operator and replaced.source_platform_id != who.platform_id:
            raise NotFound(f"live policy {data.replaces_id} not found")
        replaced.retired_at = utcnow()
    policy = LinkPolicy(
        id=new_id("pol"),
        version=_next_policy_version(session),
        source_platform_id=data.source_platform_id,
        target_platform_id=data.target_platform_id,
        surface=data.surface.value if data.surface else ANY,
        modes=list(dict.fromkeys(m.value for m in data.modes)),
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        reason=data.reason,
        source_sentence=data.source_sentence,
        date_assumed=data.date_assumed,
        created_by=who.tenant_id,
        replaces_id=replaced.id if replaced else None,
    )
    session.add(policy)
    session.flush()
    return policy


def retire_policy(session: Session, who: Principal, policy_id: str) -> LinkPolicy:
    who.require_admin()
    policy = session.get(LinkPolicy, policy_id)
    if policy is None or (not who.is_operator and policy.source_platform_id != who.platform_id):
        raise NotFound(f"policy {policy_id} not found")
    if policy.retired_at is None:
        record_change(session, "policy", policy.id)
        policy.retired_at = utcnow()
    return policy


def seed_policies(session: Session, operator_id: str | None) -> int:
    """Seed the article's link-policy history once (keyed by the seed's reason text)."""
    raw = json.loads((SEED_DIR / "policies.json").read_text(encoding="utf-8"))
    created = 0
    for item in raw["policies"]:
        exists = session.scalar(
            select(LinkPolicy.id).where(
                LinkPolicy.source_platform_id == item["source"],
                LinkPolicy.reason == item["reason"],
            )
        )
        if exists:
            continue
        record_change(session, "policy", "*")
        session.add(
            LinkPolicy(
                id=new_id("pol"),
                version=_next_policy_version(session),
                source_platform_id=item["source"],
                target_platform_id=item["target"],
                surface=item["surface"],
                modes=item["modes"],
                valid_from=dt.datetime.fromisoformat(item["valid_from"]),
                valid_to=dt.datetime.fromisoformat(item["valid_to"]) if item["valid_to"] else None,
                reason=item["reason"],
                source_sentence=item["source_sentence"],
                date_assumed=item["date_assumed"],
                created_by=operator_id,
            )
        )
        session.flush()
        created += 1
    return created


def new_endpoint_secret() -> dict[str, Any]:
    return {"kid": "k" + secrets.token_hex(3), "secret": "whsec_" + secrets.token_urlsafe(32)}
