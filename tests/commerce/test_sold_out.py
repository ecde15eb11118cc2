"""A flash sale's storm after the last unit: the process remembers a SKU it saw short and
refuses without asking the database, forgets as soon as it adds units itself, and sees
another process's release within SOLD_OUT_SECONDS. Nothing is ever oversold."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select, update

from hutong.commerce import stock
from hutong.commerce.errors import InsufficientStock
from hutong.commerce.models import Sku
from hutong.store import Store
from tests.api.market import build_market
from tests.commerce.shop import product
from tests.conftest import LiveServer


@pytest.fixture
def one_unit(server: LiveServer) -> Iterator[tuple[Store, str, list[str]]]:
    """A SKU with one unit, its store, and the SQL statements the store sends from now on."""
    m = build_market(server)
    try:
        sku = product(m, "tmall", stock=1)["skus"][0]["id"]
        store = server.world.store
        sent: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            sent.append(statement)

        event.listen(store.engine, "before_cursor_execute", count)
        try:
            yield store, sku, sent
        finally:
            event.remove(store.engine, "before_cursor_execute", count)
    finally:
        m.close()


def reserve(store: Store, sku: str, quantity: int = 1) -> bool:
    try:
        with store.transaction() as session:
            stock.reserve(session, sku, quantity)
        return True
    except InsufficientStock:
        return False


def counters(store: Store, sku: str) -> tuple[int, int]:
    with store.reading() as session:
        row = session.execute(
            select(Sku.stock_available, Sku.stock_reserved).where(Sku.id == sku)
        ).one()
    return int(row[0]), int(row[1])


def test_a_sold_out_sku_is_refused_without_the_database(
    one_unit: tuple[Store, str, list[str]],
) -> None:
    store, sku, sent = one_unit
    assert not reserve(store, sku, 2)  # two of one: refused by the database, remembered
    assert reserve(store, sku, 1)  # a smaller request is not refused by the mark
    assert not reserve(store, sku, 1)  # the database says none left
    sent.clear()
    assert not any(reserve(store, sku) for _ in range(100))
    assert sent == []  # a hundred refusals, not one statement
    assert counters(store, sku) == (0, 1)

    with store.transaction() as session:  # this process releases the unit: forgotten at once
        stock.release(session, sku, 1)
    assert reserve(store, sku) and counters(store, sku) == (0, 1)


def test_another_process_adding_units_is_seen_within_the_window(
    one_unit: tuple[Store, str, list[str]],
) -> None:
    store, sku, _ = one_unit
    assert reserve(store, sku) and not reserve(store, sku)
    with store.transaction() as session:  # as another process would: behind our back
        session.execute(update(Sku).where(Sku.id == sku).values(stock_available=5))
    assert not reserve(store, sku)  # still marked: the window has not passed
    time.sleep(stock.SOLD_OUT_SECONDS)
    assert reserve(store, sku)  # the mark expired; the database has units again
    assert counters(store, sku) == (4, 2)  # never more than there were
