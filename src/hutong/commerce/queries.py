"""Commerce reads scoped to what the caller may see (docs/visibility.md); else NotFound."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hutong.commerce.errors import OrderNotFound, SkuNotFound
from hutong.commerce.models import Order, OrderEvent, OrderLine, Product, Sku
from hutong.errors import NotFound
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.queries import buyer_tenant_ids

SELLERS = (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)


def sees_orders(who: Principal) -> bool:
    return who.is_operator or who.kind in SELLERS


def products(who: Principal) -> Select[Product]:
    query = select(Product).order_by(Product.created_at, Product.id)
    if who.is_operator:
        return query
    if who.kind in SELLERS:
        return query.where(Product.seller_id.in_(buyer_tenant_ids(who)))
    return query.where(Product.id.is_(None))


def product_for(session: Session, who: Principal, product_id: str) -> Product:
    found = session.scalar(products(who).where(Product.id == product_id))
    if found is None:
        raise NotFound(f"product {product_id} not found")
    return found


def skus_of(session: Session, product_id: str) -> list[Sku]:
    return list(session.scalars(select(Sku).where(Sku.product_id == product_id).order_by(Sku.id)))


def sku_for(session: Session, who: Principal, sku_id: str) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None or not sees_orders(who):
        raise SkuNotFound(f"sku {sku_id} not found")
    if not who.is_operator and sku.seller_id not in set(session.scalars(buyer_tenant_ids(who))):
        raise SkuNotFound(f"sku {sku_id} not found")
    return sku


def orders(who: Principal) -> Select[Order]:
    query = select(Order).order_by(Order.created_at.desc(), Order.id)
    if who.is_operator:
        return query
    if who.kind in SELLERS:
        return query.where(Order.seller_id.in_(buyer_tenant_ids(who)))
    return query.where(Order.id.is_(None))


def order_for(session: Session, who: Principal, order_id: str, *, lock: bool = False) -> Order:
    query = orders(who).where(Order.id == order_id)
    if lock:  # FOR NO KEY UPDATE: rows that reference the order may still be inserted
        query = query.with_for_update(key_share=True)
    found = session.scalar(query)
    if found is None:
        raise OrderNotFound(f"order {order_id} not found")
    return found


def lines_of(session: Session, order_id: str) -> list[OrderLine]:
    return list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        )
    )


def events_of(session: Session, order_id: str) -> list[OrderEvent]:
    return list(
        session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
    )
