"""Reads scoped to what the caller may see (docs/visibility.md); anything else is NotFound."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from hutong.errors import NotFound
from hutong.tenants.models import Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.models import Campaign, CampaignPlacement, Conversion, Link, Placement


def buyer_tenant_ids(who: Principal) -> Select[str]:
    """The tenants whose purchases ``who`` sees: itself, and a shelf platform its merchants."""
    if who.kind is TenantKind.SHELF_PLATFORM:
        return select(Tenant.id).where(
            or_(Tenant.id == who.tenant_id, Tenant.parent_id == who.tenant_id)
        )
    return select(Tenant.id).where(Tenant.id == who.tenant_id)


def campaigns(who: Principal) -> Select[Campaign]:
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id)
    if who.is_operator:
        return query
    if who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        return query.where(Campaign.tenant_id.in_(buyer_tenant_ids(who)))
    return query.where(Campaign.id.is_(None))


def campaign_for(session: Session, who: Principal, campaign_id: str) -> Campaign:
    found = session.scalar(campaigns(who).where(Campaign.id == campaign_id))
    if found is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if not who.is_operator and found.tenant_id != who.tenant_id and who.kind is TenantKind.MERCHANT:
        raise NotFound(f"campaign {campaign_id} not found")
    return found


def campaign_placements(session: Session, campaign_id: str) -> list[str]:
    return list(
        session.scalars(
            select(CampaignPlacement.placement_id)
            .where(CampaignPlacement.campaign_id == campaign_id)
            .order_by(CampaignPlacement.placement_id)
        )
    )


def placements(who: Principal) -> Select[Placement]:
    """Content platforms see their own; buyers see the active catalogue they can buy from."""
    query = select(Placement).order_by(Placement.created_at, Placement.id)
    if who.is_operator:
        return query
    if who.kind is TenantKind.CONTENT_PLATFORM:
        return query.where(Placement.tenant_id == who.tenant_id)
    if who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        return query.where(Placement.active.is_(True))
    return query.where(Placement.id.is_(None))


def placement_for(session: Session, who: Principal, placement_id: str) -> Placement:
    found = session.scalar(placements(who).where(Placement.id == placement_id))
    if found is None:
        raise NotFound(f"placement {placement_id} not found")
    return found


def links(who: Principal) -> Select[Link]:
    """Buyers see their campaigns' links; a streamer the links it earns on."""
    query = select(Link).order_by(Link.created_at.desc(), Link.id)
    if who.is_operator:
        return query
    if who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        owned = select(Campaign.id).where(Campaign.tenant_id.in_(buyer_tenant_ids(who)))
        return query.where(Link.campaign_id.in_(owned))
    if who.kind is TenantKind.STREAMER:
        return query.where(Link.affiliate_id == who.tenant_id)
    return query.where(Link.id.is_(None))


def link_for(session: Session, who: Principal, link_id: str, *, write: bool = False) -> Link:
    """A visible link; for writes only the buying tenant itself (or an operator) qualifies."""
    found = session.scalar(links(who).where(Link.id == link_id))
    if found is None:
        raise NotFound(f"link {link_id} not found")
    if write and not who.is_operator:
        campaign = session.get(Campaign, found.campaign_id)
        owner = campaign.tenant_id if campaign else None
        if who.kind is TenantKind.STREAMER or (
            owner != who.tenant_id and who.kind is not TenantKind.SHELF_PLATFORM
        ):
            raise NotFound(f"link {link_id} not found")
    return found


def conversions(who: Principal) -> Select[Conversion]:
    """Buyers see conversions they reported or that their campaigns earned; a content platform
    those credited to its placements; a streamer those on its links."""
    query = select(Conversion).order_by(Conversion.created_at.desc(), Conversion.id)
    if who.is_operator:
        return query
    if who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        owned = select(Campaign.id).where(Campaign.tenant_id.in_(buyer_tenant_ids(who)))
        return query.where(
            or_(Conversion.campaign_id.in_(owned), Conversion.reporter_id == who.tenant_id)
        )
    if who.kind is TenantKind.CONTENT_PLATFORM:
        return query.where(Conversion.seller_id == who.tenant_id, Conversion.credited.is_(True))
    if who.kind is TenantKind.STREAMER:
        mine = select(Link.id).where(Link.affiliate_id == who.tenant_id)
        return query.where(Conversion.link_id.in_(mine), Conversion.credited.is_(True))
    return query.where(Conversion.id.is_(None))


def sees_buyer_data(who: Principal) -> bool:
    """Only the buying side and operators ever see buyer hashes (never content platforms)."""
    return who.is_operator or who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)


def click_scope(session: Session, who: Principal) -> tuple[str, list[str]] | None:
    """Which clicks ``who`` sees: the column to filter the lake on and the allowed ids."""
    if who.is_operator:
        return None
    if who.kind is TenantKind.CONTENT_PLATFORM:
        return "seller_id", [who.tenant_id]
    if who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        return "buyer_id", list(session.scalars(buyer_tenant_ids(who)))
    if who.kind is TenantKind.STREAMER:
        return "affiliate_id", [who.tenant_id]
    return "buyer_id", []
