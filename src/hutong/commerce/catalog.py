"""Products and SKUs: a seller (a merchant, or a shelf platform selling itself) lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.commerce import stock
from hutong.commerce.models import Product, Sku
from hutong.commerce.schemas import ProductIn
from hutong.errors import Conflict, Forbidden
from hutong.ids import new_id
from hutong.tenants.models import Tenant, TenantKind
from hutong.tenants.principal import Principal


def seller_platform(session: Session, who: Principal) -> str:
    """The shelf platform a seller sells on: its own, or its parent's for a merchant."""
    who.require_admin()
    if who.kind is TenantKind.SHELF_PLATFORM and who.platform_id:
        return who.platform_id
    if who.kind is TenantKind.MERCHANT and who.parent_id:
        parent = session.get(Tenant, who.parent_id)
        if parent is not None and parent.platform_id:
            return parent.platform_id
    raise Forbidden("only a shelf platform or a merchant under one sells products")


def create_product(session: Session, who: Principal, data: ProductIn) -> tuple[Product, list[Sku]]:
    platform_id = seller_platform(session, who)
    codes = [s.code for s in data.skus]
    if len(set(codes)) != len(codes):
        raise Conflict("sku codes must be distinct")
    taken = session.scalar(
        select(Sku.code).where(Sku.seller_id == who.tenant_id, Sku.code.in_(codes)).limit(1)
    )
    if taken is not None:
        raise Conflict(f"sku code {taken!r} is already in use by this seller")
    product = Product(
        id=new_id("prd"), seller_id=who.tenant_id, platform_id=platform_id, title=data.title
    )
    session.add(product)
    skus = []
    for item in data.skus:
        presale = item.presale
        sku = Sku(
            id=new_id("sku"),
            product_id=product.id,
            seller_id=who.tenant_id,
            code=item.code,
            title=item.title,
            price_fen=item.price_fen,
            currency="CNY",
            stock_available=item.stock,
            stock_reserved=0,
            stock_sold=0,
            presale_deposit_fen=presale.deposit_fen if presale else None,
            presale_final_starts_at=presale.final_starts_at if presale else None,
            presale_final_ends_at=presale.final_ends_at if presale else None,
        )
        session.add(sku)
        skus.append(sku)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create took a code
        raise Conflict("a sku code is already in use by this seller") from exc
    return product, skus


def add_stock(session: Session, who: Principal, sku: Sku, quantity: int) -> Sku:
    who.require_admin()
    stock.receive(session, sku.id, quantity)
    session.refresh(sku)
    return sku
