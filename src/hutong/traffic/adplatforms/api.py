"""HTTP: the monitoring URL the ad systems call, and what operators and tenants read and set.

``GET /m/{platform}/{code}`` is called by a content platform's ad system, server-side, for
every tap on an ad whose click-monitoring URL is hutong's (templates at ``GET
/v1/ad-platforms``). It needs no key: the link code names the campaign, and a call for a code
that is not an active link of that platform is refused. It answers 200 once the tap is in
the click log (a repeat for the same tap: 200, nothing recorded twice).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep
from hutong.errors import NotFound
from hutong.runtime import Runtime
from hutong.traffic.adplatforms import service
from hutong.traffic.adplatforms.models import AdClick, AdConversion
from hutong.traffic.adplatforms.protocol import AdPlatform, MonitorCall
from hutong.traffic.adplatforms.registry import PLATFORMS, platform

router = APIRouter(tags=["ad platforms"])
Limit = Annotated[int, Query(ge=1, le=500)]


class MonitorAck(BaseModel):
    ok: bool = True
    click_id: str = Field(description="the touchpoint's click id (the jump's, if it came first)")
    repeat: bool = Field(description="the platform had already called for this tap")


class AdPlatformOut(BaseModel):
    name: str
    content_platform: str
    landing_param: str
    monitor_template: str
    gateway: str
    published_gateway: str
    source: str
    confirmed: bool
    events: dict[str, str]
    max_attempts: int


class GatewayIn(BaseModel):
    url: str = Field(pattern=r"^https?://[^\s/@]+(/[^\s]*)?$", max_length=500)


class AdClickOut(BaseModel):
    id: str
    platform: str
    click_id: str
    link_id: str
    campaign_id: str
    bot: bool
    bot_reason: str
    seen_first_by: str
    calls: int
    ad: dict[str, str]


class AdConversionOut(BaseModel):
    id: str
    platform: str
    event: str
    code: str
    order_ref: str
    amount_fen: int
    occurred_at: str
    method: str
    url: str
    body: str
    state: str
    attempts: int
    answer: str


def _repeat(runtime: Runtime, found: AdPlatform, call: MonitorCall) -> str | None:
    with runtime.store.transaction() as session:
        seen = service.seen_tap(session, found, call)
        return seen.click_id if seen is not None else None


def _keep(
    runtime: Runtime, found: AdPlatform, call: MonitorCall, code: str, logged: tuple[str, str, str]
) -> str:
    with runtime.store.transaction() as session:
        return service.record_tap(session, found, call, code, logged).click_id


@router.get("/m/{platform_name}/{code}", response_model=MonitorAck)
async def monitor(platform_name: str, code: str, request: Request, rt: RuntimeDep) -> MonitorAck:
    """A content platform's click-monitoring call for one tap (its macros filled in).

    Async on purpose: the click guard that pairs this call with the jump for the same tap is
    only touched from the event loop, like the jump itself; the store work runs in threads.
    """
    found = platform(platform_name)
    call = found.parse_monitor(dict(request.query_params))
    click_id = await run_in_threadpool(_repeat, rt, found, call)
    if click_id is not None:
        return MonitorAck(click_id=click_id, repeat=True)
    # no address from the platform: the tap stands alone in the per-address rate count
    address = call.ip or "tap:" + service.tap_key(found, call)[:16]
    logged = rt.jumper.monitor(
        code, found.content_platform, call.click_key, address, call.user_agent, call.device_id
    )
    if logged is None:
        raise NotFound(f"no active {found.content_platform} link {code}")
    click_id = await run_in_threadpool(_keep, rt, found, call, code, logged)
    return MonitorAck(click_id=click_id, repeat=False)


@router.get("/v1/ad-platforms", response_model=list[AdPlatformOut])
def list_platforms(
    session: SessionDep, who: PrincipalDep, rt: RuntimeDep, link_code: str = "{code}"
) -> list[AdPlatformOut]:
    """Each ad system's click-monitoring URL template (for ``link_code``), its events and
    where its conversion callbacks go."""
    base = rt.settings.public_url
    return [
        AdPlatformOut(
            name=p.name,
            content_platform=p.content_platform,
            landing_param=p.landing_param,
            monitor_template=p.monitor_template(f"{base}/m/{p.name}/{link_code}"),
            gateway=service.gateway_of(session, p),
            published_gateway=p.gateway,
            source=p.source,
            confirmed=p.confirmed,
            events=dict(p.events),
            max_attempts=p.max_attempts,
        )
        for p in PLATFORMS.values()
    ]


@router.put("/v1/ad-platforms/{platform_name}/gateway", response_model=AdPlatformOut)
def set_gateway(
    platform_name: str, body: GatewayIn, session: SessionDep, who: PrincipalDep, rt: RuntimeDep
) -> AdPlatformOut:
    """Point an ad system's conversion callbacks elsewhere (its emulator, a proxy)."""
    found = platform(platform_name)
    service.set_gateway(session, who, found, body.url)
    return next(p for p in list_platforms(session, who, rt) if p.name == found.name)


@router.get("/v1/ad-clicks", response_model=list[AdClickOut])
def list_clicks(session: SessionDep, who: PrincipalDep, limit: Limit = 100) -> list[AdClickOut]:
    """Taps reported by monitoring calls on the caller's placements (newest first)."""
    return [_click_out(c) for c in service.visible_clicks(session, who, limit)]


@router.get("/v1/ad-conversions", response_model=list[AdConversionOut])
def list_conversions(
    session: SessionDep, who: PrincipalDep, limit: Limit = 100
) -> list[AdConversionOut]:
    """Conversion callbacks sent to ad systems, with each platform's answer (newest first)."""
    return [_conversion_out(c) for c in service.visible_conversions(session, who, limit)]


def _click_out(c: AdClick) -> AdClickOut:
    return AdClickOut(
        id=c.id,
        platform=c.platform,
        click_id=c.click_id,
        link_id=c.link_id,
        campaign_id=c.campaign_id,
        bot=c.bot,
        bot_reason=c.bot_reason,
        seen_first_by=c.seen_first_by,
        calls=c.calls,
        ad=c.ad,
    )


def _conversion_out(c: AdConversion) -> AdConversionOut:
    return AdConversionOut(
        id=c.id,
        platform=c.platform,
        event=c.event,
        code=c.code,
        order_ref=c.order_ref,
        amount_fen=c.amount_fen,
        occurred_at=c.occurred_at.isoformat(),
        method=c.method,
        url=c.url,
        body=c.body,
        state=c.state,
        attempts=c.attempts,
        answer=c.answer,
    )
