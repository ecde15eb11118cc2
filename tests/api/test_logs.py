"""Nothing secret or personal reaches the logs: a whole walk (keys issued, a tap carrying a
device id, an order with the buyer's address and phone, a payment at the provider, its signed
notification, refusals and errors) logged at DEBUG, and then every log line searched for the
API keys, the signing keys, the click token, the device id, the buyer and the address."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.market import MOBILE_SAFARI, build_market, ok
from tests.commerce.shop import (
    ADDRESS,
    connect_sandbox,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # the server's own logs and its web server's; the HTTP client libraries' DEBUG traces
        # are the test's clients talking (hutong's logging leaves them at WARNING)
        if not record.name.startswith(("hutong", "uvicorn")):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {text}")


@pytest.fixture
def kept() -> Iterator[Kept]:
    handler = Kept()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_a_whole_walk_logs_no_secret_and_no_personal_data(server: LiveServer, kept: Kept) -> None:
    m = build_market(server)
    secret = "sandbox-secret-" + "s" * 16
    try:
        with sandbox_emulator({"M-LOGS": secret}) as (_, gateway):
            connect_sandbox(m, "tmall", gateway, "M-LOGS", secret)
            splash = m.placement("douyin", "splash")
            link = m.link("tmall", m.campaign("tmall", [splash]), splash)
            wait_until(lambda: link["code"] in server.world.runtime.cache.links)
            device = "OAID-1234-5678-ABCD"
            with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
                tap = browser.get(
                    f"/j/{link['code']}?oaid={device}",
                    headers={"User-Agent": MOBILE_SAFARI, "X-Forwarded-For": "10.3.3.3"},
                )
                # the ad system's monitoring call names the device and the viewer's address
                monitored = browser.get(
                    f"/m/oceanengine/{link['code']}",
                    params={"callback": "cb-logs", "oaid": device, "ip": "10.4.4.4"},
                )
                assert monitored.status_code < 300, monitored.text
            token = parse_qs(urlsplit(tap.headers["location"]).query)["ht_ct"][0]
            sku = product(m, "tmall", stock=3)["skus"][0]["id"]
            buyer = "buyer-private-ref-7788"
            body = {
                "lines": [{"sku_id": sku, "quantity": 1}],
                "buyer_ref": buyer,
                "device_ref": device,
                "click_token": token,
                "ship_to": ADDRESS,
            }
            created = ok(m.client("tmall").post("/v1/orders", json=body), 201)
            payment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
                ),
                201,
            )
            assert httpx.post(payment["pay_url"]).status_code == 200
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
            # refusals and errors log too: a bad key, a forged token, a bad body
            with server.client("htk_bogus_" + "x" * 40) as bogus:
                assert bogus.get("/v1/me").status_code == 401
            forged = {**body, "click_token": token[:-4] + "AAAA"}
            assert m.client("tmall").post("/v1/orders", json=forged).status_code >= 400
            assert m.client("tmall").post("/v1/orders", json={"lines": "x"}).status_code == 422
    finally:
        m.close()

    settings = server.world.settings
    never = {
        "an API key": [*m.keys.values(), server.world.operator_key],
        "a token signing key": [key.decode() for _, key in settings.token_keys],
        "the PII key": [settings.pii_key.decode()],
        "a provider secret": [secret],
        "the click token": [token],
        "the device id": [device],
        "the buyer": [buyer],
        "the phone": [ADDRESS["phone"]],
        "the street address": [ADDRESS["address"]],
        "a client address": ["10.3.3.3", "10.4.4.4"],
    }
    assert len(kept.lines) > 20  # the walk was logged (access lines at least)
    for what, values in never.items():
        for value in values:
            leaked = [line for line in kept.lines if value in line]
            assert not leaked, f"{what} in the logs: {leaked[:2]}"
