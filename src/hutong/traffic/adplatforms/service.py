"""Monitoring calls in, conversion callbacks out: the ad-platform protocols' service.

A monitoring call is recorded twice on purpose: as a click in this process's click log (so
attribution, billing and the lake see it as a touchpoint like any jump, deduplicated against
the jump for the same tap by ``Jumper.monitor``), and as an ``AdClick`` row that keeps the
platform's callback value for the conversion callbacks. A repeated call for one tap bumps
``calls`` and records nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.errors import NotFound
from hutong.ids import new_id
from hutong.store import utcnow
from hutong.tenants.principal import Principal
from hutong.traffic.adplatforms.models import AdClick, AdConversion, AdGateway
from hutong.traffic.adplatforms.protocol import AdPlatform, MonitorCall
from hutong.traffic.adplatforms.registry import PLATFORMS
from hutong.traffic.models import Link, Placement
from hutong.worker.models import OutboxMessage

KIND_PREFIX = "adconv:"  # outbox kind: "adconv:<platform>"


def tap_key(platform: AdPlatform, call: MonitorCall) -> str:
    return hashlib.sha256(f"{platform.name}:{call.click_key}".encode()).hexdigest()


def seen_tap(session: Session, platform: AdPlatform, call: MonitorCall) -> AdClick | None:
    """The tap's row if the platform already called for it (and counts this repeat)."""
    found = session.scalar(
        select(AdClick).where(
            AdClick.platform == platform.name, AdClick.tap_key == tap_key(platform, call)
        )
    )
    if found is not None:
        found.calls += 1
    return found


def record_tap(
    session: Session,
    platform: AdPlatform,
    call: MonitorCall,
    code: str,
    logged: tuple[str, str, str],
) -> AdClick:
    """Keep the tap whose click ``Jumper.monitor`` logged as ``logged`` (event id, click id,
    bot reason). A concurrent repeat that won the race is returned instead."""
    event_id, click_id, reason = logged
    link = session.scalar(select(Link).where(Link.code == code))
    if link is None:
        raise NotFound(f"link {code} not found")
    placement = session.get(Placement, link.placement_id) if link.placement_id else None
    row = AdClick(
        id=event_id,
        platform=platform.name,
        tap_key=tap_key(platform, call),
        click_id=click_id,
        callback=call.callback,
        link_id=link.id,
        campaign_id=link.campaign_id,
        owner_id=placement.tenant_id if placement else "",
        bot=bool(reason),
        bot_reason=reason,
        seen_first_by="monitor" if click_id == event_id else "jump",
        ad=dict(call.ad),
        platform_ts=(dt.datetime.fromtimestamp(call.ts_ms / 1000, dt.UTC) if call.ts_ms else None),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = seen_tap(session, platform, call)
        if winner is None:
            raise
        return winner
    return row


def gateway_of(session: Session, platform: AdPlatform) -> str:
    configured = session.get(AdGateway, platform.name)
    return configured.url if configured else platform.gateway


def set_gateway(session: Session, who: Principal, platform: AdPlatform, url: str) -> AdGateway:
    """Point an ad platform's conversion callbacks at ``url`` (operators only)."""
    if not who.is_operator:
        raise NotFound("only the operator sets ad platform gateways")
    row = session.get(AdGateway, platform.name)
    if row is None:
        row = AdGateway(platform=platform.name, url=url)
        session.add(row)
    row.url, row.updated_at = url, utcnow()
    session.flush()
    return row


def queue_conversion(
    session: Session,
    *,
    click_id: str,
    event: str,
    order_ref: str,
    reporter_id: str,
    amount_fen: int,
    at: dt.datetime,
) -> AdConversion | None:
    """Queue the callback that tells an ad system its tap converted, once per order and event.

    Nothing is sent when the order's click was not a monitored tap, was a bot's, or the
    platform has no code for the event; a second call for the same order and event returns
    the first callback. The caller decides that the order is credited to ``click_id``.
    """
    tap = session.scalar(
        select(AdClick).where(AdClick.click_id == click_id).order_by(AdClick.received_at).limit(1)
    )
    if tap is None or tap.bot:
        return None
    platform = PLATFORMS[tap.platform]
    code = platform.events.get(event)
    if code is None:
        return None
    existing = session.scalar(
        select(AdConversion).where(
            AdConversion.order_ref == order_ref,
            AdConversion.reporter_id == reporter_id,
            AdConversion.event == event,
        )
    )
    if existing is not None:
        return existing
    conversion_id = new_id("adc")
    request = platform.conversion(
        gateway_of(session, platform), tap.callback, code, amount_fen, at, conversion_id
    )
    outbox_id = new_id("obx")
    session.add(
        OutboxMessage(
            id=outbox_id,
            kind=KIND_PREFIX + platform.name,
            owner_id=tap.owner_id,
            endpoint_id=conversion_id,
            url=request.url,
            body=request.body,
            idempotency_key=f"adc:{conversion_id}",
            next_attempt_at=utcnow(),
        )
    )
    conversion = AdConversion(
        id=conversion_id,
        platform=platform.name,
        event=event,
        code=code,
        ad_click_id=tap.id,
        order_ref=order_ref,
        reporter_id=reporter_id,
        owner_id=tap.owner_id,
        amount_fen=amount_fen,
        occurred_at=at,
        method=request.method,
        url=request.url,
        body=request.body,
        outbox_id=outbox_id,
    )
    session.add(conversion)
    session.flush()
    return conversion


def visible_conversions(session: Session, who: Principal, limit: int) -> list[AdConversion]:
    query = select(AdConversion).order_by(AdConversion.created_at.desc()).limit(limit)
    if not who.is_operator:
        query = query.where(
            (AdConversion.owner_id == who.tenant_id) | (AdConversion.reporter_id == who.tenant_id)
        )
    return list(session.scalars(query))


def visible_clicks(session: Session, who: Principal, limit: int) -> list[AdClick]:
    query = select(AdClick).order_by(AdClick.received_at.desc()).limit(limit)
    if not who.is_operator:
        query = query.where(AdClick.owner_id == who.tenant_id)
    return list(session.scalars(query))
