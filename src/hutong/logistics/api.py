"""HTTP routes of logistics: carrier and platform accounts, the carrier rule, shipping an
order, its tracking timeline, the carriers' measured records, and carriers' pushes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep, UnboundPrincipalDep
from hutong.commerce.catalog import seller_platform
from hutong.commerce.queries import order_for
from hutong.errors import NotFound
from hutong.logistics import rules, service
from hutong.logistics.models import CarrierAccount, CarrierRule, Shipment, TrackingEvent
from hutong.logistics.schemas import (
    CarrierAccountIn,
    CarrierAccountOut,
    EventOut,
    PlatformAccountIn,
    PlatformAccountOut,
    RecordOut,
    RuleIn,
    RuleOut,
    ShipIn,
    ShipmentOut,
)
from hutong.store import utcnow
from hutong.traffic.queries import buyer_tenant_ids

router = APIRouter(prefix="/v1", tags=["logistics"])
public = APIRouter(tags=["notifications"])


def shipment_out(session: SessionDep, s: Shipment, *, events: bool = True) -> ShipmentOut:
    timeline: list[TrackingEvent] = (
        list(
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == s.id)
                .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
            )
        )
        if events
        else []
    )
    return ShipmentOut(
        id=s.id,
        order_id=s.order_id,
        carrier=s.carrier,
        waybill_no=s.waybill_no,
        status=s.status,
        chosen_by=s.chosen_by,
        quoted_fee_fen=s.quoted_fee_fen,
        promised_days=s.promised_days,
        error=s.error,
        stale=s.stale,
        written_back=s.written_back_at is not None,
        writeback_error=s.writeback_error,
        created_at=s.created_at,
        picked_up_at=s.picked_up_at,
        delivered_at=s.delivered_at,
        events=[
            EventOut(
                status=e.status,
                code=e.code,
                text=e.text,
                location=e.location,
                occurred_at=e.occurred_at,
                source=e.source,
            )
            for e in timeline
        ],
    )


@router.post("/carrier-accounts", status_code=201, response_model=CarrierAccountOut)
def connect_carrier(
    body: CarrierAccountIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> CarrierAccountOut:
    seller_platform(session, who)
    row = service.connect_carrier(
        runtime.logistics, session, who, body.carrier, dict(body.settings), str(body.gateway_url)
    )
    return CarrierAccountOut(
        id=row.id,
        carrier=row.carrier,
        customer_key=row.customer_key,
        settings=row.settings,
        gateway_url=row.gateway_url,
        active=row.active,
    )


@router.get("/carrier-accounts", response_model=list[CarrierAccountOut])
def list_carrier_accounts(session: SessionDep, who: PrincipalDep) -> list[CarrierAccountOut]:
    query = select(CarrierAccount).order_by(CarrierAccount.created_at)
    if not who.is_operator:
        query = query.where(CarrierAccount.seller_id.in_(buyer_tenant_ids(who)))
    return [
        CarrierAccountOut(
            id=r.id,
            carrier=r.carrier,
            customer_key=r.customer_key,
            settings=r.settings,
            gateway_url=r.gateway_url,
            active=r.active,
        )
        for r in session.scalars(query)
    ]


@router.post("/platform-accounts", status_code=201, response_model=PlatformAccountOut)
def connect_platform(
    body: PlatformAccountIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> PlatformAccountOut:
    """The seller's credentials with its platform's open API, to write shipments back."""
    platform = seller_platform(session, who)
    if body.platform_id != platform:
        raise NotFound(f"a seller on {platform} writes back only to {platform}")
    row = service.connect_platform(
        runtime.logistics,
        session,
        who,
        body.platform_id,
        dict(body.settings),
        str(body.gateway_url),
    )
    return PlatformAccountOut(
        id=row.id, platform_id=row.platform_id, settings=row.settings, gateway_url=row.gateway_url
    )


@router.put("/carrier-rule", response_model=RuleOut)
def put_rule(body: RuleIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep) -> RuleOut:
    """How the caller's orders choose a carrier: fixed, cheapest, fastest or preference."""
    seller_platform(session, who)
    for name in body.carriers:
        runtime.logistics.carrier(name)
    rule = session.get(CarrierRule, who.tenant_id) or CarrierRule(seller_id=who.tenant_id)
    rule.mode, rule.carriers, rule.ship_from = body.mode, list(body.carriers), body.ship_from
    rule.updated_at = utcnow()
    session.add(rule)
    return RuleOut(mode=rule.mode, carriers=rule.carriers, ship_from=rule.ship_from)


@router.get("/carrier-rule", response_model=RuleOut)
def get_rule(session: SessionDep, who: PrincipalDep) -> RuleOut:
    rule = session.get(CarrierRule, who.tenant_id)
    if rule is None:
        return RuleOut(mode="preference", carriers=[], ship_from="浙江省")
    return RuleOut(mode=rule.mode, carriers=rule.carriers, ship_from=rule.ship_from)


@router.post("/orders/{order_id}/shipments", status_code=201, response_model=ShipmentOut)
def ship(order_id: str, body: ShipIn, who: UnboundPrincipalDep, runtime: RuntimeDep) -> ShipmentOut:
    """Ship a paid order: a carrier by the seller's rule (or the one named), accepted by the
    order's platform at the order's time; its waybill is written back to the platform."""
    shipment_id = service.ship_order(runtime.logistics, who, order_id, body.carrier, body.weight_g)
    with runtime.store.reading() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        return shipment_out(session, shipment)


@router.get("/orders/{order_id}/shipments", response_model=list[ShipmentOut])
def list_shipments(order_id: str, session: SessionDep, who: PrincipalDep) -> list[ShipmentOut]:
    """The order's parcels, each with its tracking timeline (every carrier's own code kept)."""
    order = order_for(session, who, order_id)
    rows = session.scalars(
        select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.created_at)
    )
    return [shipment_out(session, s) for s in rows]


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def get_shipment(shipment_id: str, session: SessionDep, who: PrincipalDep) -> ShipmentOut:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"shipment {shipment_id} not found")
    try:
        order_for(session, who, shipment.order_id)
    except NotFound as exc:
        raise NotFound(f"shipment {shipment_id} not found") from exc
    return shipment_out(session, shipment)


@router.get("/carriers/records", response_model=list[RecordOut])
def carrier_records(
    session: SessionDep, who: PrincipalDep, region: str | None = None
) -> list[RecordOut]:
    """Each carrier's measured record (to ``region``): median transit days, on-time and
    exception rates, from the parcels hutong has followed."""
    return [
        RecordOut(**rules.record_out(r))
        for r in sorted(rules.carrier_stats(session, region).values(), key=lambda r: r.carrier)
    ]


@public.post("/tracking/{carrier}", response_class=Response)
async def tracking_push(carrier: str, request: Request, runtime: RuntimeDep) -> Response:
    """A carrier's pushed tracking events, verified and answered as that carrier expects."""
    body = await request.body()
    reply = await run_in_threadpool(
        service.receive_push, runtime.logistics, carrier, request.headers, body
    )
    return Response(
        reply.body,
        status_code=reply.status_code,
        media_type=reply.content_type,
        headers=reply.headers,
    )
