"""The lake's export of orders, payments and refunds: incremental, versioned, read back as each
row's latest version by DuckDB; analytics never needs the live store."""

from __future__ import annotations

import duckdb

from hutong.lake.export import export, latest_sql
from tests.api.market import build_market, ok
from tests.commerce.shop import order, product
from tests.conftest import LiveServer


def latest(lake, kind: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    with duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    ) as con:
        cursor = con.execute(latest_sql(lake, kind))
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_export_is_incremental_and_reads_back_the_latest_version(server: LiveServer) -> None:
    m = build_market(server)
    try:
        store, lake = server.world.store, server.world.settings.lake_dir
        sku = product(m, "tmall", price_fen=1_000, stock=5)["skus"][0]
        first = ok(order(m, "tmall", sku["id"]), 201)
        second = ok(order(m, "tmall", sku["id"], 2), 201)
        assert export(store, lake)["orders"] == 2
        rows = latest(lake, "orders")
        assert {k: (v["state"], v["total_fen"]) for k, v in rows.items()} == {
            first["id"]: ("created", 1_000),
            second["id"]: ("created", 2_000),
        }
        assert "ship_to" not in rows[first["id"]]  # no address in the lake
        ok(m.client("tmall").post(f"/v1/orders/{first['id']}/cancel", json={}))
        again = export(store, lake)
        assert again["orders"] >= 1  # the change (and, within the overlap, maybe the rest again)
        rows = latest(lake, "orders")
        assert len(rows) == 2 and rows[first["id"]]["state"] == "cancelled"
        assert rows[second["id"]]["state"] == "created"
        assert export(store, lake, full=True)["orders"] == 2
        assert len(latest(lake, "orders")) == 2  # versions written twice are still one row
    finally:
        m.close()
