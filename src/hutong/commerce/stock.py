"""The one module that writes stock. Every change is a single conditional UPDATE, so two
buyers can never both take the last unit: on PostgreSQL the row lock serialises the updates
and the condition is re-checked on the locked row; on SQLite ``BEGIN IMMEDIATE`` serialises
writers. No read-then-write, no lock held across a network call.

Counters per SKU: available + reserved + sold = every unit ever received.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute, Session

from hutong.commerce.errors import InsufficientStock
from hutong.commerce.models import Sku


def reserve(session: Session, sku_id: str, quantity: int) -> None:
    """available → reserved, or InsufficientStock (the whole order fails with the caller's
    transaction, so a multi-line order never holds part of its stock)."""
    done = session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock_available >= quantity)
        .values(
            stock_available=Sku.stock_available - quantity,
            stock_reserved=Sku.stock_reserved + quantity,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise InsufficientStock(f"sku {sku_id}: fewer than {quantity} units left")


def release(session: Session, sku_id: str, quantity: int) -> None:
    """reserved → available (an unpaid order was cancelled)."""
    _move(session, sku_id, quantity, Sku.stock_reserved, Sku.stock_available)


def sell(session: Session, sku_id: str, quantity: int) -> None:
    """reserved → sold (the order was paid)."""
    _move(session, sku_id, quantity, Sku.stock_reserved, Sku.stock_sold)


def restock(session: Session, sku_id: str, quantity: int) -> None:
    """sold → available (goods came back)."""
    _move(session, sku_id, quantity, Sku.stock_sold, Sku.stock_available)


def receive(session: Session, sku_id: str, quantity: int) -> None:
    """New units arrive: available grows."""
    session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(stock_available=Sku.stock_available + quantity)
        .execution_options(synchronize_session=False)
    )


def _move(
    session: Session,
    sku_id: str,
    quantity: int,
    source: InstrumentedAttribute[int],
    target: InstrumentedAttribute[int],
) -> None:
    done = session.execute(
        update(Sku)
        .where(Sku.id == sku_id, source >= quantity)
        .values({source.key: source - quantity, target.key: target + quantity})
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise AssertionError(f"stock of sku {sku_id} is inconsistent: cannot move {quantity}")
