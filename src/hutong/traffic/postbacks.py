"""Conversions reported by shelf platforms, and the signed postbacks that tell content platforms.

Signature (docs/postbacks.md): ``X-Hutong-Signature: t=<unix>,kid=<key id>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>.<raw body>")``. Receivers reject a ``t`` more than 300 s away
from their clock (no replay outside a short window) and dedupe on ``Idempotency-Key``; an
endpoint can hold two keys while it rotates, and every message is signed with the newest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.errors import InvalidInput, NotFound
from hutong.ids import new_id
from hutong.privacy.hashing import KeyedHasher
from hutong.store import utcnow
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic import queries
from hutong.traffic.adplatforms.protocol import PAID
from hutong.traffic.adplatforms.service import queue_conversion
from hutong.traffic.errors import InvalidTarget
from hutong.traffic.models import Campaign, Conversion, Link, Placement, PostbackEndpoint
from hutong.traffic.schemas import ConversionIn
from hutong.traffic.tokens import TokenSigner
from hutong.worker.models import OutboxMessage

SIGNATURE_HEADER = "X-Hutong-Signature"
POSTBACK_KIND = "conversion_postback"


class SignatureInvalid(InvalidInput):
    code = "signature_invalid"
    title = "Signature does not verify"


def sign(body: bytes, kid: str, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},kid={kid},v1={mac}"


def verify(header: str, body: bytes, keys: dict[str, str], now: float, tolerance: int = 300) -> str:
    """The key id that signed ``body``; SignatureInvalid if forged, stale or unknown-key."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        timestamp = int(fields["t"])
        kid, mac = fields["kid"], fields["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureInvalid("signature header must be t=<unix>,kid=<id>,v1=<hex>") from exc
    if abs(now - timestamp) > tolerance:
        raise SignatureInvalid(f"signature timestamp is more than {tolerance} s away")
    secret = keys.get(kid)
    if secret is None:
        raise SignatureInvalid(f"unknown key id {kid!r}")
    expected = sign(body, kid, secret, timestamp).rsplit("v1=", 1)[1]
    if not hmac.compare_digest(expected, mac):
        raise SignatureInvalid("signature does not match the body")
    return kid


def record_conversion(
    session: Session,
    who: Principal,
    data: ConversionIn,
    signer: TokenSigner,
    hasher: KeyedHasher,
) -> tuple[Conversion, bool]:
    """Record an order against a click token once; the second report returns the first row.

    Raises InvalidToken for a forged token, NotFound when the token's link is not one of the
    caller's campaigns. A bot click or an order outside the campaign's click window is kept
    but not credited, and sends no postback.
    """
    who.require_admin()
    if not who.is_operator and who.kind not in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        raise NotFound("only the buying side reports conversions")
    claim = signer.verify(data.click_token)
    existing = session.scalar(
        select(Conversion).where(
            Conversion.reporter_id == who.tenant_id, Conversion.order_ref == data.order_ref
        )
    )
    if existing is not None:
        return existing, False
    link = session.scalar(queries.links(who).where(Link.code == claim.code))
    if link is None:
        raise NotFound("the click token's link is not one of your campaigns")
    conversion = credit_order(
        session,
        reporter_id=who.tenant_id,
        order_ref=data.order_ref,
        click_id=claim.click_id,
        bot=claim.bot,
        link=link,
        amount_fen=data.amount_fen,
        currency=data.currency,
        occurred_at=data.occurred_at,
        buyer_hash=hasher.hash("buyer", data.buyer_ref) if data.buyer_ref else None,
    )
    return conversion, True


def credit_order(
    session: Session,
    *,
    reporter_id: str,
    order_ref: str,
    click_id: str,
    bot: bool,
    link: Link,
    amount_fen: int,
    currency: str,
    occurred_at: dt.datetime,
    buyer_hash: str | None,
) -> Conversion:
    """Record a paid order against the click that brought it and, when it is credited (not a
    bot's click, inside the campaign's click window), queue the signed postbacks. The caller
    has checked that the order is the reporter's and the link one of its campaigns'; the
    commerce part calls this when an order carrying a click token becomes paid."""
    campaign = session.get(Campaign, link.campaign_id)
    placement = session.get(Placement, link.placement_id) if link.placement_id else None
    assert campaign is not None
    clicked = dt.datetime.fromtimestamp(int(click_id[:12], 16) / 1000, dt.UTC)
    note = _credit_note(bot, clicked, occurred_at, campaign.click_window_days)
    conversion = Conversion(
        id=new_id("cnv"),
        reporter_id=reporter_id,
        order_ref=order_ref,
        click_id=click_id,
        link_id=link.id,
        campaign_id=campaign.id,
        seller_id=placement.tenant_id if placement else campaign.tenant_id,
        amount_fen=amount_fen,
        currency=currency,
        buyer_hash=buyer_hash,
        credited=note == "",
        credit_note=note,
        occurred_at=occurred_at,
    )
    session.add(conversion)
    session.flush()
    if conversion.credited:
        _enqueue_postbacks(session, conversion, link, campaign)
        # the ad system whose monitored tap this was hears of it in its own protocol
        queue_conversion(
            session,
            click_id=click_id,
            event=PAID,
            order_ref=order_ref,
            reporter_id=reporter_id,
            amount_fen=amount_fen,
            at=occurred_at,
        )
    return conversion


def _credit_note(bot: bool, clicked: dt.datetime, occurred: dt.datetime, window_days: int) -> str:
    if bot:
        return "bot_click"
    if occurred < clicked - dt.timedelta(minutes=5):
        return "order_before_click"
    if occurred > clicked + dt.timedelta(days=window_days):
        return "outside_click_window"
    return ""


def postback_body(conversion: Conversion, link: Link, campaign: Campaign) -> dict[str, Any]:
    """What a content platform learns: its click converted, and for how much. No buyer data."""
    return {
        "type": "conversion",
        "conversion_id": conversion.id,
        "click_id": conversion.click_id,
        "link_code": link.code,
        "placement_id": link.placement_id,
        "campaign_id": campaign.id,
        "billing_model": campaign.billing_model,
        "amount_fen": conversion.amount_fen,
        "currency": conversion.currency,
        "occurred_at": conversion.occurred_at.isoformat(),
    }


def _enqueue_postbacks(
    session: Session, conversion: Conversion, link: Link, campaign: Campaign
) -> None:
    endpoints = session.scalars(
        select(PostbackEndpoint).where(
            PostbackEndpoint.tenant_id == conversion.seller_id, PostbackEndpoint.active.is_(True)
        )
    )
    body = json.dumps(postback_body(conversion, link, campaign), separators=(",", ":"))
    for endpoint in endpoints:
        session.add(
            OutboxMessage(
                id=new_id("obx"),
                kind=POSTBACK_KIND,
                owner_id=conversion.seller_id,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                body=body,
                idempotency_key=f"{conversion.id}:{endpoint.id}",
                next_attempt_at=utcnow(),
            )
        )


def _check_endpoint_url(url: str) -> None:
    from ada_url import URL

    try:
        parsed = URL(url)
    except ValueError as exc:
        raise InvalidTarget("postback url is not a valid absolute URL") from exc
    if parsed.protocol not in ("https:", "http:") or parsed.username or parsed.password:
        raise InvalidTarget("postback url must be http(s) without user information")


def create_endpoint(session: Session, who: Principal, url: str) -> tuple[PostbackEndpoint, str]:
    """A content platform registers where postbacks go; the secret is returned once."""
    from hutong.traffic.service import new_endpoint_secret

    who.require_admin()
    if who.kind is not TenantKind.CONTENT_PLATFORM:
        raise NotFound("only content platforms receive conversion postbacks")
    _check_endpoint_url(url)
    key = new_endpoint_secret()
    endpoint = PostbackEndpoint(id=new_id("pbe"), tenant_id=who.tenant_id, url=url, keys=[key])
    session.add(endpoint)
    session.flush()
    return endpoint, key["secret"]


def rotate_endpoint(
    session: Session, who: Principal, endpoint_id: str
) -> tuple[PostbackEndpoint, str]:
    """Add a new signing key in front; the previous one stays for verification only."""
    from hutong.traffic.service import new_endpoint_secret

    who.require_admin()
    endpoint = endpoint_for(session, who, endpoint_id)
    key = new_endpoint_secret()
    endpoint.keys = [key, *endpoint.keys[:1]]
    return endpoint, key["secret"]


def endpoint_for(session: Session, who: Principal, endpoint_id: str) -> PostbackEndpoint:
    endpoint = session.get(PostbackEndpoint, endpoint_id)
    if endpoint is None or (not who.is_operator and endpoint.tenant_id != who.tenant_id):
        raise NotFound(f"endpoint {endpoint_id} not found")
    return endpoint


def signing_key(session: Session, endpoint_id: str | None) -> tuple[str, str] | None:
    endpoint = session.get(PostbackEndpoint, endpoint_id) if endpoint_id else None
    if endpoint is None or not endpoint.keys:
        return None
    return endpoint.keys[0]["kid"], endpoint.keys[0]["secret"]
