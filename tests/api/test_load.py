"""A thousand clients at once for a bounded time, on the redirect and on the order API of a
real ``hutong serve`` over loopback: every request answered, none with an error."""

from __future__ import annotations

import asyncio
import collections
import json
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.market import MOBILE_SAFARI
from tests.commerce.shop import ADDRESS
from tests.conftest import IN_CI, Backend
from tests.serving import cli, cli_json, env_for, serving

pytestmark = pytest.mark.slow
CLIENTS = 1_000
SECONDS = 8.0


@pytest.fixture(autouse=True)
def open_files() -> Iterator[None]:
    """A thousand connections on each side of loopback need more than the usual 1,024 files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 16_384) if hard != resource.RLIM_INFINITY else 16_384
    if wanted < 4 * CLIENTS:
        message = f"the open-files limit ({hard}) is below what {CLIENTS} clients need"
        if IN_CI:
            pytest.fail(f"CI=true: {message}; raise the hard limit (ulimit -Hn)")
        pytest.skip(message)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def storm(
    url: str, request: collections.abc.Callable[[httpx.AsyncClient, int, int], object]
) -> collections.Counter[str]:
    """CLIENTS clients, each sending one request after another until SECONDS have passed;
    the outcome of every request (a status, or the transport error's name)."""
    outcomes: collections.Counter[str] = collections.Counter()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    deadline = time.monotonic() + SECONDS
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one_client(n: int) -> None:
            sent = 0
            while time.monotonic() < deadline:
                sent += 1
                # no retry: the server keeps idle connections longer than the client does,
                # so none is closed under a request (tests/api/test_keep_alive.py)
                try:
                    answer = await request(client, n, sent)  # type: ignore[misc]
                    outcomes[str(answer.status_code)] += 1
                except httpx.HTTPError as exc:
                    outcomes[type(exc).__name__] += 1

        await asyncio.gather(*(one_client(n) for n in range(CLIENTS)))
    return outcomes


def _link(url: str, env: dict[str, str]) -> tuple[str, str]:
    seller = str(cli_json(env, "tenants", "key", "--platform", "douyin")["key"])
    buyer = str(cli_json(env, "tenants", "key", "--platform", "taobao")["key"])
    with httpx.Client(base_url=url, timeout=30) as client:
        placement = client.post(
            "/v1/placements",
            headers={"X-API-Key": seller},
            json={"surface": "splash", "name": "splash", "pricing_model": "cpm", "price_fen": 10},
        ).json()
        campaign = client.post(
            "/v1/campaigns",
            headers={"X-API-Key": buyer},
            json={
                "name": "load",
                "target_platform_id": "taobao",
                "placement_ids": [placement["id"]],
                "billing_model": "cpm",
                "cpm_fen": 10,
                "budget_fen": 10**12,
                "starts_at": "2024-01-01T00:00:00+08:00",
                "ends_at": "2099-01-01T00:00:00+08:00",
            },
        ).json()
        link = client.post(
            "/v1/links",
            headers={"X-API-Key": buyer},
            json={
                "campaign_id": campaign["id"],
                "placement_id": placement["id"],
                "target_kind": "activity",
                "web_url": "https://pages.tmall.com/wow/a/act/tmall/dailygroup/double11",
            },
        ).json()
        product = client.post(
            "/v1/products",
            headers={"X-API-Key": buyer},
            json={
                "title": "load",
                "skus": [{"code": "LOAD", "title": "load", "price_fen": 100, "stock": 10**6}],
            },
        ).json()
    return str(link["code"]), json.dumps({"key": buyer, "sku": product["skus"][0]["id"]})


def test_a_thousand_clients_on_the_redirect_and_the_order_api(
    backend: Backend, tmp_path: Path
) -> None:
    env = env_for(tmp_path / "data", backend.url, HUTONG_LOG_LEVEL="WARNING")
    cli(env, "seed")
    with serving(env) as (url, _):
        code, shop = _link(url, env)
        buyer = json.loads(shop)
        time.sleep(1.0)  # the cache picks the link up from the change feed

        def jump(client: httpx.AsyncClient, n: int, sent: int) -> object:
            headers = {
                "User-Agent": MOBILE_SAFARI,
                "X-Forwarded-For": f"10.{n // 250}.{n % 250}.{sent % 250}",
            }
            return client.get(f"/j/{code}", headers=headers)

        jumps = asyncio.run(storm(url, jump))
        assert set(jumps) == {"302"}, jumps
        assert jumps["302"] >= CLIENTS

        def order(client: httpx.AsyncClient, n: int, sent: int) -> object:
            body = {
                "lines": [{"sku_id": buyer["sku"], "quantity": 1}],
                "buyer_ref": f"load-{n}-{sent}",
                "ship_to": ADDRESS,
            }
            headers = {"Authorization": f"Bearer {buyer['key']}", "Idempotency-Key": f"{n}-{sent}"}
            return client.post("/v1/orders", json=body, headers=headers)

        orders = asyncio.run(storm(url, order))
        assert set(orders) == {"201"}, orders
        assert orders["201"] >= CLIENTS
        with httpx.Client(base_url=url, timeout=30) as client:
            sku = client.get(
                f"/v1/skus/{buyer['sku']}", headers={"Authorization": f"Bearer {buyer['key']}"}
            ).json()
        assert sku["stock_reserved"] == orders["201"]  # each answered order holds its unit
