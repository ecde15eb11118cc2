"""The database goes away and comes back, through a loopback proxy this test owns: while it is
away the API answers 503 ``store_unavailable`` (never a hang, never a 500), and once it is back
the same server serves again with no restart; an order retried with its Idempotency-Key across
the outage exists once, stock agrees, and nothing acknowledged is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from hutong.migrate import upgrade
from tests.api.market import build_market, ok
from tests.commerce.shop import ADDRESS, product
from tests.conftest import (
    IN_CI,
    PG_ENV,
    LiveServer,
    drop_schema,
    make_settings,
    own_world,
    pg_schema_url,
    postgres_url,
    serving,
)
from tests.faults import CuttableProxy, proxy_to

pytestmark = pytest.mark.postgres


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[tuple[LiveServer, CuttableProxy]]:
    base = postgres_url()
    if base is None:
        if IN_CI:
            pytest.fail(f"CI=true but {PG_ENV} is not set: the outage test must run")
        pytest.skip(f"the database outage is played on PostgreSQL ({PG_ENV} is not set)")
    schema, direct = pg_schema_url(base)
    upgrade(direct)
    address = urlsplit(base)
    try:
        with proxy_to(address.hostname or "127.0.0.1", address.port or 5432) as proxy:
            proxied = direct.replace(
                f"{address.hostname}:{address.port or 5432}", f"127.0.0.1:{proxy.port}", 1
            )
            assert proxied != direct
            with own_world(make_settings(tmp_path, proxied)) as world, serving(world) as live:
                yield live, proxy
    finally:
        drop_schema(base, schema)


def _order(client: httpx.Client, sku: str, key: str) -> httpx.Response:
    body = {"lines": [{"sku_id": sku, "quantity": 1}], "buyer_ref": key, "ship_to": ADDRESS}
    return client.post("/v1/orders", json=body, headers={"Idempotency-Key": key})


def test_the_database_dropping_and_returning_loses_and_doubles_nothing(
    behind_proxy: tuple[LiveServer, CuttableProxy],
) -> None:
    live, proxy = behind_proxy
    market = build_market(live)
    try:
        sku = product(market, "tmall", stock=10)["skus"][0]["id"]
        shop = market.client("tmall")
        first = ok(_order(shop, sku, "before"), 201)

        proxy.cut()
        during = _order(shop, sku, "during")
        assert during.status_code == 503, during.text
        assert during.json()["code"] == "store_unavailable"
        assert during.headers["retry-after"] == "1"
        with live.client() as probe:
            assert probe.get("/healthz").status_code == 503

        proxy.restore()
        retried = ok(_order(shop, sku, "during"), 201)  # the client's retry, same key
        again = ok(_order(shop, sku, "during"), 201)
        assert again["id"] == retried["id"]  # applied once
        assert ok(shop.get(f"/v1/orders/{first['id']}"))["id"] == first["id"]

        listed = ok(shop.get("/v1/orders", params={"limit": 100}))
        ids = [o["id"] for o in (listed["items"] if isinstance(listed, dict) else listed)]
        assert sorted(ids) == sorted({first["id"], retried["id"]})
        after = ok(shop.get(f"/v1/skus/{sku}"))
        assert (after["stock_available"], after["stock_reserved"]) == (8, 2)
        with live.client(live.world.operator_key) as operator:
            metrics = operator.get("/metrics").text
        assert 'route="/v1/orders",status="5xx"' in metrics  # the outage is visible
    finally:
        market.close()
