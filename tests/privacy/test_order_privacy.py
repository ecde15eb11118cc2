"""Orders keep the sellers' books but let a person go: forgetting a buyer clears their
addresses and hash; retention clears addresses of finished orders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from hutong.commerce.models import Order
from hutong.lake.export import export
from hutong.privacy.service import forget, purge_expired
from tests.api.market import build_market, ok
from tests.commerce.shop import ADDRESS, product
from tests.conftest import LiveServer
from tests.lake.test_export import latest


def test_forget_and_retention_clear_order_addresses(server: LiveServer) -> None:
    m = build_market(server)
    try:
        sku = product(m, "tmall", stock=5)["skus"][0]
        mine = ok(
            m.client("tmall").post(
                "/v1/orders",
                json={
                    "lines": [{"sku_id": sku["id"], "quantity": 1}],
                    "buyer_ref": "13812345678",
                    "ship_to": ADDRESS,
                },
            ),
            201,
        )
        other = ok(
            m.client("tmall").post(
                "/v1/orders",
                json={
                    "lines": [{"sku_id": sku["id"], "quantity": 1}],
                    "buyer_ref": "13900000000",
                    "ship_to": ADDRESS,
                },
            ),
            201,
        )
        settings, store = server.world.settings, server.world.store
        removed = forget(settings, store, "buyer", "13812345678")
        assert removed["orders"] == 1
        with store.reading() as session:
            rows = {o.id: o for o in session.scalars(select(Order))}
        assert rows[mine["id"]].ship_to == {} and rows[mine["id"]].buyer_hash == "forgotten"
        assert rows[other["id"]].ship_to["address"] == ADDRESS["address"]
        ok(m.client("tmall").post(f"/v1/orders/{other['id']}/cancel", json={}))
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.pii_retention_days + 1)
        with store.transaction() as session:
            session.execute(update(Order).where(Order.id == other["id"]).values(updated_at=old))
        assert purge_expired(settings, store) >= 1
        with store.reading() as session:
            assert session.get(Order, other["id"]).ship_to == {}  # type: ignore[union-attr]
    finally:
        m.close()


def test_forgetting_a_device_clears_it_from_orders_and_their_lake_export(
    server: LiveServer,
) -> None:
    m = build_market(server)
    try:
        sku = product(m, "tmall", stock=5)["skus"][0]
        body = {
            "lines": [{"sku_id": sku["id"], "quantity": 1}],
            "buyer_ref": "13812345670",
            "ship_to": ADDRESS,
        }
        mine = ok(m.client("tmall").post("/v1/orders", json={**body, "device_ref": "OAID-x"}), 201)
        other = ok(m.client("tmall").post("/v1/orders", json={**body, "device_ref": "OAID-y"}), 201)
        settings, store = server.world.settings, server.world.store
        export(store, settings.lake_dir)
        before = latest(settings.lake_dir, "orders")
        assert before[mine["id"]]["device_hash"] and before[other["id"]]["device_hash"]
        removed = forget(settings, store, "device", "OAID-x")
        assert removed["orders"] == 1 and removed["lake_rows"] >= 1
        with store.reading() as session:
            assert session.get(Order, mine["id"]).device_hash is None  # type: ignore[union-attr]
            assert session.get(Order, other["id"]).device_hash  # type: ignore[union-attr]
        after = latest(settings.lake_dir, "orders")
        assert after[mine["id"]]["device_hash"] is None
        assert after[other["id"]]["device_hash"] == before[other["id"]]["device_hash"]
    finally:
        m.close()
