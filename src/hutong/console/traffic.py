"""The traffic page and its forms: a campaign with its link, a link-policy version."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.api.auth import RuntimeDep
from hutong.console import forms
from hutong.console.i18n import pick_lang
from hutong.console.web import Refused, principal, render, router, to_signin
from hutong.errors import HutongError
from hutong.runtime import Runtime
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal


@router.get("/traffic", response_class=HTMLResponse)
def traffic_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    context = _traffic_context(runtime, who)
    return render(request, "traffic.html", who, errors={}, form={}, **context)


def _traffic_context(runtime: Runtime, who: Principal) -> dict[str, Any]:
    from hutong.traffic import queries as traffic
    from hutong.traffic.models import Link, LinkPolicy, Platform

    with runtime.store.reading() as session:
        placements = list(session.scalars(traffic.placements(who).limit(200)))
        campaigns = list(session.scalars(traffic.campaigns(who).limit(200)))
        ids = [c.id for c in campaigns]
        links = list(session.scalars(select(Link).where(Link.campaign_id.in_(ids)).limit(500)))
        policies = list(
            session.scalars(
                select(LinkPolicy).order_by(LinkPolicy.source_platform_id, LinkPolicy.valid_from)
            )
        )
    buyer = who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)
    with runtime.store.reading() as session:
        platforms = [p.id for p in session.scalars(select(Platform).order_by(Platform.id))]
    return {
        "platforms": platforms,
        "may_set_policy": who.is_operator or who.kind is TenantKind.CONTENT_PLATFORM,
        "placements": placements,
        "campaigns": campaigns,
        "links": links,
        "policies": policies,
        "public_url": runtime.settings.public_url,
        "buyer": buyer,
    }


CAMPAIGN_FIELDS = {  # the API's field: the form's
    "placement_ids": "placement",
    "cpc_fen": "price",
    "cpm_fen": "price",
    "cps_rate_bp": "price",
    "budget_fen": "budget",
}


@router.post("/campaigns", response_class=HTMLResponse)
async def campaign_form(request: Request, runtime: RuntimeDep) -> Response:
    """A buyer creates a campaign on one placement and its tracked link, in one go."""
    lang = pick_lang(request)
    form = await forms.read_form(request)
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    try:
        with runtime.store.transaction() as session:
            _create_campaign(session, who, runtime, form, lang)
    except Refused as refused:
        return _traffic_with(request, runtime, who, refused.errors, form)
    except HutongError as exc:
        field = "web_url" if exc.code == "invalid_target" else "name"
        return _traffic_with(request, runtime, who, {field: str(exc)}, form)
    return RedirectResponse("/console/traffic", status_code=303)


def _create_campaign(
    session: Session, who: Principal, runtime: Runtime, form: dict[str, list[str]], lang: str
) -> None:
    from hutong.commerce.catalog import seller_platform
    from hutong.traffic import service as traffic_service
    from hutong.traffic.schemas import CampaignIn, LinkIn

    billing = forms.first(form, "billing_model")
    try:
        price = forms.fen_of(form, "price")  # fen for CPC and CPM; basis points for CPS
        budget = forms.fen_of(form, "budget")
    except forms.FieldError as exc:
        raise Refused({exc.field: forms.message(exc.kind, lang)}) from exc
    now = dt.datetime.now(dt.UTC)
    try:
        campaign_in = CampaignIn(
            name=forms.first(form, "name"),
            target_platform_id=seller_platform(session, who),
            placement_ids=[forms.first(form, "placement")],
            billing_model=billing,
            cpc_fen=price if billing == "cpc" else 0,
            cpm_fen=price if billing == "cpm" else 0,
            cps_rate_bp=price if billing == "cps" else 0,  # 6.00 (%) is 600 basis points
            budget_fen=budget,
            starts_at=now,
            ends_at=now + dt.timedelta(days=30),
        )
        campaign = traffic_service.create_campaign(session, who, campaign_in)
        link_in = LinkIn(
            campaign_id=campaign.id,
            placement_id=campaign_in.placement_ids[0],
            target_kind=forms.first(form, "target_kind") or "activity",
            web_url=forms.first(form, "web_url"),
        )
    except ValidationError as exc:
        raise Refused(forms.errors_of(exc, lang, CAMPAIGN_FIELDS)) from exc
    traffic_service.create_link(session, who, link_in, runtime.settings.passcode_ttl_days)


POLICY_FIELDS = {"source_platform_id": "source", "target_platform_id": "target"}


@router.post("/policies", response_class=HTMLResponse)
async def policy_form(request: Request, runtime: RuntimeDep) -> Response:
    """A content platform (or the operator) changes a link policy: a new version from a
    moment on; the history stays, and the jump follows it within the cache's poll."""
    from hutong.traffic import service as traffic_service
    from hutong.traffic.schemas import PolicyIn

    lang = pick_lang(request)
    form = await forms.read_form(request)
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    source = forms.first(form, "source") if who.is_operator else (who.platform_id or "")
    day = forms.first(form, "valid_from")
    try:
        with runtime.store.transaction() as session:
            try:
                body = PolicyIn(
                    source_platform_id=source,
                    target_platform_id=forms.first(form, "target") or None,
                    surface=forms.first(form, "surface") or None,
                    modes=[m for m in form.get("modes", []) if m],
                    valid_from=f"{day}T00:00:00+08:00" if day else "",
                    reason=forms.first(form, "reason")[:2000],
                )
            except ValidationError as exc:
                raise Refused(forms.errors_of(exc, lang, POLICY_FIELDS)) from exc
            traffic_service.add_policy(session, who, body)
    except Refused as refused:
        return _traffic_with(request, runtime, who, refused.errors, form)
    except HutongError as exc:
        return _traffic_with(request, runtime, who, {"source": str(exc)}, form)
    return RedirectResponse("/console/traffic", status_code=303)


def _traffic_with(
    request: Request,
    runtime: Runtime,
    who: Principal,
    errors: dict[str, str],
    form: dict[str, list[str]],
) -> HTMLResponse:
    context = _traffic_context(runtime, who)
    flat = {k: v[0] for k, v in form.items()}
    return render(request, "traffic.html", who, errors=errors, form=flat, **context)
