"""HTTP routes of commerce: products and stock, orders, platform terms and the interop matrix."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep
from hutong.api.idempotency import IdemKey, run_once
from hutong.commerce import catalog, interop, queries
from hutong.commerce import orders as actions
from hutong.commerce.models import InteropRule, Order, PlatformTerms, Product, Sku
from hutong.commerce.schemas import (
    AcceptsOut,
    CancelIn,
    EventOut,
    InteropIn,
    InteropOut,
    LineOut,
    OrderIn,
    OrderOut,
    ProductIn,
    ProductOut,
    SkuOut,
    StockIn,
    TermsIn,
    TermsOut,
)
from hutong.errors import Forbidden, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.privacy.hashing import mask_address
from hutong.tenants.principal import Principal
from hutong.traffic.models import Platform

router = APIRouter(prefix="/v1", tags=["commerce"])
Limit = Annotated[int, Query(ge=1, le=500)]


def sku_out(s: Sku) -> SkuOut:
    return SkuOut(
        id=s.id,
        product_id=s.product_id,
        code=s.code,
        title=s.title,
        price_fen=s.price_fen,
        currency=s.currency,
        stock_available=s.stock_available,
        stock_reserved=s.stock_reserved,
        stock_sold=s.stock_sold,
        presale_deposit_fen=s.presale_deposit_fen,
        presale_final_starts_at=s.presale_final_starts_at,
        presale_final_ends_at=s.presale_final_ends_at,
    )


def product_out(p: Product, skus: list[Sku]) -> ProductOut:
    return ProductOut(
        id=p.id,
        seller_id=p.seller_id,
        platform_id=p.platform_id,
        title=p.title,
        active=p.active,
        skus=[sku_out(s) for s in skus],
    )


def order_out(session: SessionDep, who: Principal, o: Order, *, events: bool = False) -> OrderOut:
    seller_side = queries.sees_orders(who)
    return OrderOut(
        id=o.id,
        seller_id=o.seller_id,
        platform_id=o.platform_id,
        external_ref=o.external_ref,
        state=o.state,
        currency=o.currency,
        total_fen=o.total_fen,
        deposit_fen=o.deposit_fen,
        paid_fen=o.paid_fen,
        refunded_fen=o.refunded_fen,
        presale=o.presale,
        organic=o.click_id is None,
        click_id=o.click_id,
        campaign_id=o.campaign_id,
        region=o.region,
        buyer_hash=o.buyer_hash if seller_side else None,
        ship_to=mask_address(o.ship_to) if seller_side and o.ship_to else None,
        payment_due_at=o.payment_due_at,
        final_due_from=o.final_due_from,
        final_due_until=o.final_due_until,
        paid_at=o.paid_at,
        created_at=o.created_at,
        lines=[
            LineOut(
                id=line.id,
                sku_id=line.sku_id,
                quantity=line.quantity,
                unit_price_fen=line.unit_price_fen,
                total_fen=line.total_fen,
            )
            for line in queries.lines_of(session, o.id)
        ],
        events=[
            EventOut(
                from_state=e.from_state,
                to_state=e.to_state,
                cause=e.cause,
                detail=e.detail,
                at=e.at,
            )
            for e in queries.events_of(session, o.id)
        ]
        if events
        else [],
    )


# -- products and stock -------------------------------------------------------------------
@router.post("/products", status_code=201, response_model=ProductOut)
def create_product(
    body: ProductIn, session: SessionDep, who: PrincipalDep, key: IdemKey = None
) -> Response:
    def work() -> tuple[int, ProductOut]:
        product, skus = catalog.create_product(session, who, body)
        return 201, product_out(product, skus)

    return run_once(session, who, key, "POST /v1/products", body, work)


@router.get("/products", response_model=list[ProductOut])
def list_products(session: SessionDep, who: PrincipalDep, limit: Limit = 100) -> list[ProductOut]:
    return [
        product_out(p, queries.skus_of(session, p.id))
        for p in session.scalars(queries.products(who).limit(limit))
    ]


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: str, session: SessionDep, who: PrincipalDep) -> ProductOut:
    product = queries.product_for(session, who, product_id)
    return product_out(product, queries.skus_of(session, product.id))


@router.get("/skus/{sku_id}", response_model=SkuOut)
def get_sku(sku_id: str, session: SessionDep, who: PrincipalDep) -> SkuOut:
    return sku_out(queries.sku_for(session, who, sku_id))


@router.post("/skus/{sku_id}/stock", response_model=SkuOut)
def add_stock(sku_id: str, body: StockIn, session: SessionDep, who: PrincipalDep) -> SkuOut:
    """New units arrive for a SKU (only its seller may add them)."""
    sku = queries.sku_for(session, who, sku_id)
    if sku.seller_id != who.tenant_id and not who.is_operator:
        raise NotFound(f"sku {sku_id} not found")
    return sku_out(catalog.add_stock(session, who, sku, body.add))


# -- orders ----------------------------------------------------------------------------------
@router.post("/orders", status_code=201, response_model=OrderOut)
def create_order(
    body: OrderIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep, key: IdemKey = None
) -> Response:
    """Create an order and reserve its stock; with ``Idempotency-Key`` a retry returns the
    first answer, never a second order."""

    def work() -> tuple[int, OrderOut]:
        order = actions.create_order(session, who, body, runtime.signer, runtime.hasher)
        return 201, order_out(session, who, order, events=True)

    return run_once(session, who, key, "POST /v1/orders", body, work)


@router.get("/orders", response_model=list[OrderOut])
def list_orders(
    session: SessionDep,
    who: PrincipalDep,
    state: str | None = None,
    limit: Limit = 100,
) -> list[OrderOut]:
    query = queries.orders(who)
    if state is not None:
        query = query.where(Order.state == state)
    return [order_out(session, who, o) for o in session.scalars(query.limit(limit))]


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: str, session: SessionDep, who: PrincipalDep) -> OrderOut:
    """The order with its whole history (every transition, its time and cause)."""
    return order_out(session, who, queries.order_for(session, who, order_id), events=True)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: str, body: CancelIn, session: SessionDep, who: PrincipalDep) -> OrderOut:
    """Cancel an unpaid order (409 once it is paid: refund it instead)."""
    order = queries.order_for(session, who, order_id, lock=True)
    actions.cancel_by_seller(session, who, order, body.reason)
    return order_out(session, who, order, events=True)


@router.post("/orders/{order_id}/confirm-receipt", response_model=OrderOut)
def confirm_receipt(order_id: str, session: SessionDep, who: PrincipalDep) -> OrderOut:
    """The buyer confirmed receipt (reported by the platform): the order is completed."""
    who.require_admin()
    order = queries.order_for(session, who, order_id, lock=True)
    actions.confirm_receipt(session, order, "receipt_confirmed")
    return order_out(session, who, order, events=True)


# -- terms and the interop matrix ------------------------------------------------------------
def interop_out(r: InteropRule) -> InteropOut:
    return InteropOut(
        id=r.id,
        platform_id=r.platform_id,
        kind=r.kind,
        partner=r.partner,
        allowed=r.allowed,
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        source_sentence=r.source_sentence,
        date_assumed=r.date_assumed,
        note=r.note,
    )


@router.get("/interop", response_model=list[InteropOut])
def list_interop(
    session: SessionDep, who: PrincipalDep, platform_id: str | None = None
) -> list[InteropOut]:
    """The dated matrix (public reference data, like link policies)."""
    query = select(InteropRule).order_by(
        InteropRule.platform_id, InteropRule.kind, InteropRule.partner, InteropRule.valid_from
    )
    if platform_id is not None:
        query = query.where(InteropRule.platform_id == platform_id)
    return [interop_out(r) for r in session.scalars(query)]


@router.get("/interop/accepts", response_model=AcceptsOut)
def accepts(
    session: SessionDep, who: PrincipalDep, platform_id: str, at: dt.datetime | None = None
) -> AcceptsOut:
    """Which payment providers and carriers ``platform_id`` accepts at ``at`` (default now)."""
    when = at or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return AcceptsOut(
        platform_id=platform_id,
        at=when,
        payment=interop.accepted(session, platform_id, "payment", when),
        carrier=interop.accepted(session, platform_id, "carrier", when),
    )


@router.post("/interop", status_code=201, response_model=InteropOut)
def add_interop(body: InteropIn, session: SessionDep, who: PrincipalDep) -> InteropOut:
    """Operators record a new wall coming down (or going up)."""
    who.require_admin()
    if not who.is_operator:
        raise Forbidden("only operators change the interop matrix")
    if session.get(Platform, body.platform_id) is None:
        raise NotFound(f"platform {body.platform_id} not found")
    if body.valid_to is not None and body.valid_to <= body.valid_from:
        raise InvalidInput("valid_to must be after valid_from")
    rule = InteropRule(id=new_id("ior"), **body.model_dump())
    session.add(rule)
    session.flush()
    return interop_out(rule)


@router.get("/platform-terms", response_model=list[TermsOut])
def list_terms(session: SessionDep, who: PrincipalDep) -> list[TermsOut]:
    return [
        TermsOut(
            platform_id=t.platform_id,
            payment_timeout_minutes=t.payment_timeout_minutes,
            deposit_rule=t.deposit_rule,
            source=t.source,
        )
        for t in session.scalars(select(PlatformTerms).order_by(PlatformTerms.platform_id))
    ]


@router.put("/platform-terms/{platform_id}", response_model=TermsOut)
def put_terms(platform_id: str, body: TermsIn, session: SessionDep, who: PrincipalDep) -> TermsOut:
    """A shelf platform sets its own terms; operators set anyone's."""
    who.require_admin()
    if session.get(Platform, platform_id) is None or (
        not who.is_operator and who.platform_id != platform_id
    ):
        raise NotFound(f"platform {platform_id} not found")
    terms = session.get(PlatformTerms, platform_id) or PlatformTerms(platform_id=platform_id)
    terms.payment_timeout_minutes = body.payment_timeout_minutes
    terms.deposit_rule = body.deposit_rule
    terms.source = body.source
    session.add(terms)
    session.flush()
    return TermsOut(
        platform_id=platform_id,
        payment_timeout_minutes=terms.payment_timeout_minutes,
        deposit_rule=terms.deposit_rule,
        source=terms.source,
    )
