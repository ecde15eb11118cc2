"""A shop on top of the traffic market, built through the HTTP API: products, provider
accounts with an emulator, orders, and waiting for what the provider's notifications do."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from hutong.payments.emulators.sandbox import SandboxEmulator
from tests.api.market import Market, ok
from tests.conftest import running

ADDRESS = {
    "name": "张三",
    "phone": "13812345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "address": "文一西路 969 号",
}


@contextmanager
def sandbox_emulator(merchants: dict[str, str]) -> Iterator[tuple[SandboxEmulator, str]]:
    emulator = SandboxEmulator(merchants, time_scale=0.01)
    try:
        with running(emulator.app) as url:
            yield emulator, url
    finally:
        emulator.close()


def product(
    m: Market, seller: str, *, price_fen: int = 19_900, stock: int = 10, **sku: Any
) -> dict[str, Any]:
    body = {
        "title": "Double 11 gift box",
        "skus": [
            {
                "code": f"SKU-{secrets.token_hex(3)}",
                "title": "gift box",
                "price_fen": price_fen,
                "stock": stock,
                **sku,
            }
        ],
    }
    result: dict[str, Any] = ok(m.client(seller).post("/v1/products", json=body), 201)
    return result


def connect_sandbox(m: Market, seller: str, url: str, merchant_id: str, secret: str) -> None:
    ok(
        m.client(seller).post(
            "/v1/provider-accounts",
            json={
                "provider": "sandbox",
                "settings": {"merchant_id": merchant_id, "secret": secret},
                "gateway_url": url,
            },
        ),
        201,
    )


def order(m: Market, seller: str, sku_id: str, quantity: int = 1, **extra: Any) -> httpx.Response:
    body = {
        "lines": [{"sku_id": sku_id, "quantity": quantity}],
        "buyer_ref": "buyer-" + secrets.token_hex(4),
        "ship_to": ADDRESS,
        **extra,
    }
    return m.client(seller).post("/v1/orders", json=body)


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def state_of(m: Market, seller: str, order_id: str) -> str:
    return str(ok(m.client(seller).get(f"/v1/orders/{order_id}"))["state"])


def settled_deliveries(gateway: str) -> list[dict[str, Any]] | None:
    """The emulator's notifications once every one of them is acknowledged, else None."""
    deliveries: list[dict[str, Any]] = httpx.get(f"{gateway}/_emulator/state").json()["deliveries"]
    return deliveries if deliveries and all(d["done"] for d in deliveries) else None
