"""The one module that writes stock. Every change is a single conditional UPDATE, so two
buyers can never both take the last unit: on PostgreSQL the row lock serialises the updates
and the condition is re-checked on the locked row; on SQLite ``BEGIN IMMEDIATE`` serialises
writers. No read-then-write, no lock held across a network call.

Counters per SKU: available + reserved + sold = every unit ever received.

A flash sale sells its units in seconds and then meets a storm of buyers for nothing: the
process remembers, for SOLD_OUT_SECONDS, that a SKU had fewer than some quantity left, and
refuses such requests without a word to the database (a million attempts on 10,000 units
become 10,000 transactions, not a million; bench/flash.py). Any change this process makes
that adds available units forgets the mark; one made by another process is seen at most
SOLD_OUT_SECONDS later. A "sold out" may lag a release that long; a sale can never pass the
database's condition, so nothing is ever oversold.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute, Session

from hutong.commerce.errors import InsufficientStock
from hutong.commerce.models import Sku

SOLD_OUT_SECONDS = 0.5


class SoldOut:
    """SKUs seen short, each with the smallest quantity refused and when (per process)."""

    def __init__(self, seconds: float = SOLD_OUT_SECONDS) -> None:
        self.seconds = seconds
        self._short: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def refuses(self, sku_id: str, quantity: int) -> bool:
        seen = self._short.get(sku_id)
        if seen is None:
            return False
        if time.monotonic() - seen[1] >= self.seconds:
            self.forget(sku_id)
            return False
        return quantity >= seen[0]

    def mark(self, sku_id: str, quantity: int) -> None:
        with self._lock:
            seen = self._short.get(sku_id)
            smallest = min(quantity, seen[0]) if seen else quantity
            self._short[sku_id] = (smallest, time.monotonic())

    def forget(self, sku_id: str) -> None:
        with self._lock:
            self._short.pop(sku_id, None)


SOLD_OUT = SoldOut()


def reserve(session: Session, sku_id: str, quantity: int) -> None:
    """available → reserved, or InsufficientStock (the whole order fails with the caller's
    transaction, so a multi-line order never holds part of its stock)."""
    if SOLD_OUT.refuses(sku_id, quantity):
        raise InsufficientStock(f"sku {sku_id}: fewer than {quantity} units left")
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
        SOLD_OUT.mark(sku_id, quantity)
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
    SOLD_OUT.forget(sku_id)
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
    if target is Sku.stock_available:
        SOLD_OUT.forget(sku_id)
    done = session.execute(
        update(Sku)
        .where(Sku.id == sku_id, source >= quantity)
        .values({source.key: source - quantity, target.key: target + quantity})
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise AssertionError(f"stock of sku {sku_id} is inconsistent: cannot move {quantity}")
