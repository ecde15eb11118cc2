"""A flash sale never oversells: 1,000 buyers at once over HTTP, 100 units, exactly 100 orders."""

from __future__ import annotations

import asyncio
import collections

import httpx
import pytest
from sqlalchemy import func, select

from hutong.commerce.models import Order, OrderLine, Sku
from tests.api.market import build_market, ok
from tests.commerce.shop import ADDRESS, product
from tests.conftest import LiveServer

BUYERS = 1_000
UNITS = 100


async def _storm(url: str, key: str, sku_id: str) -> collections.Counter[int]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=120
    ) as client:

        async def buy(n: int) -> int:
            body = {
                "lines": [{"sku_id": sku_id, "quantity": 1}],
                "buyer_ref": f"flash-buyer-{n}",
                "ship_to": ADDRESS,
            }
            # no retry: a transport error is a failure (the kept-alive race is closed,
            # tests/api/test_keep_alive.py)
            headers = {"Idempotency-Key": f"flash-{n}"}
            answer = await client.post("/v1/orders", json=body, headers=headers)
            if answer.status_code == 409:
                assert answer.json()["code"] == "insufficient_stock"
            return answer.status_code

        return collections.Counter(await asyncio.gather(*(buy(n) for n in range(BUYERS))))


@pytest.mark.slow
def test_a_thousand_buyers_for_a_hundred_units(server: LiveServer) -> None:
    m = build_market(server)
    try:
        sku = product(m, "tmall", price_fen=9_900, stock=UNITS)["skus"][0]
        codes = asyncio.run(_storm(server.url, m.keys["tmall"], sku["id"]))
        assert codes == {201: UNITS, 409: BUYERS - UNITS}, codes
        after = ok(m.client("tmall").get(f"/v1/skus/{sku['id']}"))
        assert (after["stock_available"], after["stock_reserved"]) == (0, UNITS)
        with server.world.store.reading() as session:
            orders = session.scalar(select(func.count()).select_from(Order))
            units = session.scalar(
                select(func.sum(OrderLine.quantity)).where(OrderLine.sku_id == sku["id"])
            )
            row = session.get(Sku, sku["id"])
            assert row is not None
            assert orders == UNITS and units == UNITS
            assert row.stock_available + row.stock_reserved + row.stock_sold == UNITS
    finally:
        m.close()
