"""HTTP routes of the traffic exchange; each calls the service layer and nothing else."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep
from hutong.api.idempotency import IdemKey, run_once
from hutong.errors import Forbidden, NotFound
from hutong.traffic import clicks as click_reads
from hutong.traffic import postbacks, queries, service
from hutong.traffic.codes import render_passcode
from hutong.traffic.jump import SOURCE_PARAM, JumpRequest
from hutong.traffic.models import (
    Campaign,
    Conversion,
    Creative,
    Link,
    LinkPolicy,
    Passcode,
    Placement,
    Platform,
    PostbackEndpoint,
    Surface,
)
from hutong.traffic.pages import qr_svg
from hutong.traffic.schemas import (
    CampaignIn,
    CampaignOut,
    ClickOut,
    ConversionIn,
    ConversionOut,
    CreativeIn,
    CreativeOut,
    EndpointIn,
    EndpointOut,
    ImpressionBatchIn,
    ImpressionBatchOut,
    LinkIn,
    LinkOut,
    LinkPatch,
    PasscodeIn,
    PasscodeOut,
    PlacementIn,
    PlacementOut,
    PlatformIn,
    PlatformOut,
    PolicyCheckOut,
    PolicyIn,
    PolicyOut,
    ResolveIn,
    ResolveOut,
)

router = APIRouter(prefix="/v1", tags=["traffic"])
public = APIRouter(tags=["jump"])
Limit = Annotated[int, Query(ge=1, le=500)]


# -- converters ---------
def platform_out(p: Platform) -> PlatformOut:
    return PlatformOut(
        id=p.id,
        name=p.name,
        name_zh=p.name_zh,
        kind=p.kind,
        app_schemes=p.app_schemes,
        web_domains=p.web_domains,
        webview_markers=p.webview_markers,
        deep_link_template=p.deep_link_template,
    )


def placement_out(p: Placement) -> PlacementOut:
    return PlacementOut(
        id=p.id,
        tenant_id=p.tenant_id,
        platform_id=p.platform_id,
        surface=p.surface,
        name=p.name,
        pricing_model=p.pricing_model,
        price_fen=p.price_fen,
        currency=p.currency,
        active=p.active,
    )


def campaign_out(session: SessionDep, c: Campaign) -> CampaignOut:
    return CampaignOut(
        id=c.id,
        tenant_id=c.tenant_id,
        name=c.name,
        target_platform_id=c.target_platform_id,
        placement_ids=queries.campaign_placements(session, c.id),
        billing_model=c.billing_model,
        cpm_fen=c.cpm_fen,
        cpc_fen=c.cpc_fen,
        cps_rate_bp=c.cps_rate_bp,
        budget_fen=c.budget_fen,
        currency=c.currency,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        click_window_days=c.click_window_days,
        view_window_days=c.view_window_days,
        attribution_model=c.attribution_model,
    )


def link_out(session: SessionDep, runtime: RuntimeDep, link: Link) -> LinkOut:
    passcode = session.scalar(
        select(Passcode)
        .where(Passcode.link_id == link.id, Passcode.revoked_at.is_(None))
        .order_by(Passcode.expires_at.desc())
        .limit(1)
    )
    return LinkOut(
        id=link.id,
        code=link.code,
        short_url=f"{runtime.settings.public_url}/j/{link.code}",
        campaign_id=link.campaign_id,
        placement_id=link.placement_id,
        creative_id=link.creative_id,
        affiliate_id=link.affiliate_id,
        source_platform_id=link.source_platform_id,
        target_platform_id=link.target_platform_id,
        surface=link.surface,
        target_kind=link.target_kind,
        web_url=link.web_url,
        app_url=link.app_url,
        fixed_params=link.fixed_params,
        fallback_chain=link.fallback_chain,
        active=link.active,
        passcode=passcode.code if passcode else None,
        passcode_expires_at=passcode.expires_at if passcode else None,
    )


def policy_out(p: LinkPolicy) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        version=p.version,
        source_platform_id=p.source_platform_id,
        target_platform_id=p.target_platform_id,
        surface=p.surface,
        modes=p.modes,
        valid_from=p.valid_from,
        valid_to=p.valid_to,
        reason=p.reason,
        source_sentence=p.source_sentence,
        date_assumed=p.date_assumed,
        retired_at=p.retired_at,
        replaces_id=p.replaces_id,
    )


def conversion_out(c: Conversion, *, buyer_data: bool) -> ConversionOut:
    return ConversionOut(
        id=c.id,
        order_ref=c.order_ref,
        click_id=c.click_id,
        link_id=c.link_id,
        campaign_id=c.campaign_id,
        seller_id=c.seller_id,
        amount_fen=c.amount_fen,
        currency=c.currency,
        occurred_at=c.occurred_at,
        credited=c.credited,
        buyer_hash=c.buyer_hash if buyer_data else None,
    )


# -- platforms ---------
@router.get("/platforms", response_model=list[PlatformOut])
def list_platforms(session: SessionDep, who: PrincipalDep) -> list[PlatformOut]:
    return [platform_out(p) for p in session.scalars(select(Platform).order_by(Platform.id))]


@router.get("/platforms/{platform_id}", response_model=PlatformOut)
def get_platform(platform_id: str, session: SessionDep, who: PrincipalDep) -> PlatformOut:
    return platform_out(service.platform(session, platform_id))


@router.put("/platforms/{platform_id}", response_model=PlatformOut)
def put_platform(
    platform_id: str, body: PlatformIn, session: SessionDep, who: PrincipalDep
) -> PlatformOut:
    who.require_admin()
    if not who.is_operator:
        raise Forbidden("only operators add or change platforms")
    if body.id != platform_id:
        raise NotFound(f"body id {body.id!r} does not match the path")
    return platform_out(service.upsert_platform(session, body))


# -- placements ---------
@router.post("/placements", status_code=201, response_model=PlacementOut)
def create_placement(
    body: PlacementIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    return run_once(
        session,
        who,
        key,
        "POST /v1/placements",
        body,
        lambda: (201, placement_out(service.create_placement(session, who, body))),
    )


@router.get("/placements", response_model=list[PlacementOut])
def list_placements(
    session: SessionDep, who: PrincipalDep, limit: Limit = 100
) -> list[PlacementOut]:
    return [placement_out(p) for p in session.scalars(queries.placements(who).limit(limit))]


@router.get("/placements/{placement_id}", response_model=PlacementOut)
def get_placement(placement_id: str, session: SessionDep, who: PrincipalDep) -> PlacementOut:
    return placement_out(queries.placement_for(session, who, placement_id))


# -- campaigns and creatives ---------
@router.post("/campaigns", status_code=201, response_model=CampaignOut)
def create_campaign(
    body: CampaignIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    return run_once(
        session,
        who,
        key,
        "POST /v1/campaigns",
        body,
        lambda: (201, campaign_out(session, service.create_campaign(session, who, body))),
    )


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(session: SessionDep, who: PrincipalDep, limit: Limit = 100) -> list[CampaignOut]:
    return [campaign_out(session, c) for c in session.scalars(queries.campaigns(who).limit(limit))]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: str, session: SessionDep, who: PrincipalDep) -> CampaignOut:
    return campaign_out(session, queries.campaign_for(session, who, campaign_id))


@router.post("/campaigns/{campaign_id}/creatives", status_code=201, response_model=CreativeOut)
def create_creative(
    campaign_id: str, body: CreativeIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    def work() -> tuple[int, CreativeOut]:
        c = service.add_creative(session, who, campaign_id, body)
        return 201, CreativeOut(
            id=c.id,
            campaign_id=c.campaign_id,
            placement_id=c.placement_id,
            name=c.name,
            asset_url=c.asset_url,
        )

    return run_once(session, who, key, f"POST /v1/campaigns/{campaign_id}/creatives", body, work)


@router.get("/campaigns/{campaign_id}/creatives", response_model=list[CreativeOut])
def list_creatives(campaign_id: str, session: SessionDep, who: PrincipalDep) -> list[CreativeOut]:
    campaign = queries.campaign_for(session, who, campaign_id)
    rows = session.scalars(select(Creative).where(Creative.campaign_id == campaign.id))
    return [
        CreativeOut(
            id=c.id,
            campaign_id=c.campaign_id,
            placement_id=c.placement_id,
            name=c.name,
            asset_url=c.asset_url,
        )
        for c in rows
    ]


# -- links and passcodes ---------
@router.post("/links", status_code=201, response_model=LinkOut)
def create_link(
    body: LinkIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep, key: IdemKey = None
) -> Response:
    ttl = runtime.settings.passcode_ttl_days
    return run_once(
        session,
        who,
        key,
        "POST /v1/links",
        body,
        lambda: (201, link_out(session, runtime, service.create_link(session, who, body, ttl))),
    )


@router.get("/links", response_model=list[LinkOut])
def list_links(
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    campaign_id: str | None = None,
    limit: Limit = 100,
) -> list[LinkOut]:
    query = queries.links(who)
    if campaign_id is not None:
        query = query.where(Link.campaign_id == campaign_id)
    return [link_out(session, runtime, lk) for lk in session.scalars(query.limit(limit))]


@router.get("/links/{link_id}", response_model=LinkOut)
def get_link(link_id: str, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep) -> LinkOut:
    return link_out(session, runtime, queries.link_for(session, who, link_id))


@router.patch("/links/{link_id}", response_model=LinkOut)
def patch_link(
    link_id: str, body: LinkPatch, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> LinkOut:
    return link_out(session, runtime, service.set_link_active(session, who, link_id, body.active))


@router.get(
    "/links/{link_id}/qr.{fmt}",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
    response_class=Response,
)
def link_qr(
    link_id: str,
    fmt: str,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """A QR code of the short link (marked as a scan), for posters and blocked apps."""
    import io

    import segno

    link = queries.link_for(session, who, link_id)
    if fmt not in ("png", "svg"):
        raise NotFound("QR codes come as .png or .svg")
    data = f"{runtime.settings.public_url}/j/{link.code}?{SOURCE_PARAM}=qr"
    buf = io.BytesIO()
    segno.make(data, error="m").save(buf, kind=fmt, scale=scale, border=2)
    media = "image/png" if fmt == "png" else "image/svg+xml"
    return Response(buf.getvalue(), media_type=media)


@router.post("/links/{link_id}/passcodes", status_code=201, response_model=PasscodeOut)
def create_passcode(
    link_id: str, body: PasscodeIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    def work() -> tuple[int, PasscodeOut]:
        pc = service.issue_passcode(session, who, link_id, body.ttl_days)
        link = session.get(Link, pc.link_id)
        campaign = session.get(Campaign, link.campaign_id) if link else None
        target = session.get(Platform, link.target_platform_id) if link else None
        text = render_passcode(
            pc.code,
            campaign.name if campaign else "",
            (target.name_zh or target.name) if target else "",
        )
        return 201, PasscodeOut(
            passcode=pc.code, text=text, link_id=pc.link_id, expires_at=pc.expires_at
        )

    return run_once(session, who, key, f"POST /v1/links/{link_id}/passcodes", body, work)


# -- policies ---------
@router.get("/policies", response_model=list[PolicyOut])
def list_policies(
    session: SessionDep,
    who: PrincipalDep,
    source: str | None = None,
    include_retired: bool = False,
) -> list[PolicyOut]:
    """Link policies are public rules: every tenant may read the whole history."""
    query = select(LinkPolicy).order_by(LinkPolicy.version)
    if source is not None:
        query = query.where(LinkPolicy.source_platform_id == source)
    if not include_retired:
        query = query.where(LinkPolicy.retired_at.is_(None))
    return [policy_out(p) for p in session.scalars(query)]


@router.post("/policies", status_code=201, response_model=PolicyOut)
def create_policy(
    body: PolicyIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    return run_once(
        session,
        who,
        key,
        "POST /v1/policies",
        body,
        lambda: (201, policy_out(service.add_policy(session, who, body))),
    )


@router.delete("/policies/{policy_id}", response_model=PolicyOut)
def retire_policy(policy_id: str, session: SessionDep, who: PrincipalDep) -> PolicyOut:
    return policy_out(service.retire_policy(session, who, policy_id))


@router.get("/policy-check", response_model=PolicyCheckOut)
def check_policy(
    session: SessionDep,
    who: PrincipalDep,
    source: str,
    target: str,
    surface: Surface,
    at: dt.datetime | None = None,
) -> PolicyCheckOut:
    """May ``source`` link to ``target`` from ``surface`` at time ``at`` (default now), and why."""
    from hutong.traffic.cache import load_rules
    from hutong.traffic.policy import decide

    service.platform(session, source)
    service.platform(session, target)
    when = at or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        raise NotFound("at must carry a timezone offset")
    decision = decide(load_rules(session), source, target, surface.value, when)
    rule = session.get(LinkPolicy, decision.rule.id) if decision.rule else None
    return PolicyCheckOut(
        source=source,
        target=target,
        surface=surface.value,
        at=when,
        allowed=decision.allowed,
        modes=list(decision.modes),
        policy_version=decision.version,
        rule=policy_out(rule) if rule else None,
        why=decision.why,
    )


# -- impressions, clicks, conversions, postbacks ---------
@router.post("/impressions", status_code=202, response_model=ImpressionBatchOut)
def post_impressions(
    body: ImpressionBatchIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> ImpressionBatchOut:
    return runtime.impressions.ingest(session, who, body)


@router.get("/clicks", response_model=list[ClickOut])
def list_clicks(
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
    campaign_id: str | None = None,
    day: dt.date | None = None,
    limit: Limit = 100,
) -> list[ClickOut]:
    """Clicks already compacted into the lake, as the caller may see them (no personal data)."""
    scope = queries.click_scope(session, who)
    rows = click_reads.visible_clicks(runtime.settings.lake_dir, scope, campaign_id, day, limit)
    return [ClickOut(**row) for row in rows]


@router.post("/conversions", status_code=201, response_model=ConversionOut)
def post_conversion(
    body: ConversionIn,
    response: Response,
    session: SessionDep,
    who: PrincipalDep,
    runtime: RuntimeDep,
) -> ConversionOut:
    """Report an order for a click token; reporting the same order again changes nothing."""
    conversion, created = postbacks.record_conversion(
        session, who, body, runtime.signer, runtime.hasher
    )
    if not created:
        response.status_code = 200
    return conversion_out(conversion, buyer_data=True)


@router.get("/conversions", response_model=list[ConversionOut])
def list_conversions(
    session: SessionDep, who: PrincipalDep, limit: Limit = 100
) -> list[ConversionOut]:
    buyer_data = queries.sees_buyer_data(who)
    return [
        conversion_out(c, buyer_data=buyer_data)
        for c in session.scalars(queries.conversions(who).limit(limit))
    ]


@router.post("/postback-endpoints", status_code=201, response_model=EndpointOut)
def create_endpoint(body: EndpointIn, session: SessionDep, who: PrincipalDep) -> EndpointOut:
    endpoint, secret = postbacks.create_endpoint(session, who, body.url)
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        active=endpoint.active,
        key_ids=[k["kid"] for k in endpoint.keys],
        secret=secret,
    )


@router.post("/postback-endpoints/{endpoint_id}/rotate", response_model=EndpointOut)
def rotate_endpoint(endpoint_id: str, session: SessionDep, who: PrincipalDep) -> EndpointOut:
    endpoint, secret = postbacks.rotate_endpoint(session, who, endpoint_id)
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        active=endpoint.active,
        key_ids=[k["kid"] for k in endpoint.keys],
        secret=secret,
    )


@router.get("/postback-endpoints", response_model=list[EndpointOut])
def list_endpoints(session: SessionDep, who: PrincipalDep) -> list[EndpointOut]:
    rows = session.scalars(
        select(PostbackEndpoint).where(PostbackEndpoint.tenant_id == who.tenant_id)
    )
    return [
        EndpointOut(id=e.id, url=e.url, active=e.active, key_ids=[k["kid"] for k in e.keys])
        for e in rows
    ]


# -- the public jump side ---------
def _jump_request(request: Request, code: str) -> JumpRequest:
    headers = request.headers
    return JumpRequest(
        method=request.method,
        code=code,
        query=request.url.query,
        user_agent=headers.get("user-agent", ""),
        referer=headers.get("referer", ""),
        client_ip=request.client.host if request.client else "",
        purpose=headers.get("purpose", "") or headers.get("sec-purpose", ""),
    )


def _jump(code: str, request: Request, runtime: RuntimeDep) -> Response:
    answer = runtime.jumper.jump_and_log(_jump_request(request, code))
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


# what a jump answers: people get pages, never problem+json
_HTML: dict[str, dict[str, Any]] = {"text/html": {}}
JUMP_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "a page: open in the app, or copy the passcode", "content": _HTML},
    302: {"description": "redirect to the target"},
    403: {"description": "the link may not be followed from here, and why", "content": _HTML},
    404: {"description": "no such link (a page)", "content": _HTML},
    429: {"description": "too many taps from this address this minute (a page)", "content": _HTML},
}


@public.get("/j/{code}", response_class=Response, responses=JUMP_ANSWERS)
def jump(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """The tracked jump (normally answered by the dedicated listener before reaching here)."""
    return _jump(code, request, runtime)


@public.head("/j/{code}", response_class=Response, responses=JUMP_ANSWERS)
def jump_head(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """Where the jump would go; a HEAD is never recorded as a click."""
    return _jump(code, request, runtime)


@public.post("/p/resolve", response_model=ResolveOut)
def resolve_passcode(body: ResolveIn, request: Request, runtime: RuntimeDep) -> ResolveOut:
    """Resolve a pasted passcode (anywhere in the text) to its link, recording the click."""
    return ResolveOut(**runtime.jumper.resolve_passcode(body.text, _jump_request(request, "")))


@public.get(
    "/qr/{code}.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}}
)
def public_qr(code: str, runtime: RuntimeDep) -> Response:
    """The QR code of a live link, for pages that show it to users."""
    link = runtime.cache.links.get(code)
    if link is None or not link.active:
        raise NotFound("link not found")
    svg = qr_svg(f"{runtime.settings.public_url}/j/{code}?{SOURCE_PARAM}=qr")
    return Response(svg, media_type="image/svg+xml")
