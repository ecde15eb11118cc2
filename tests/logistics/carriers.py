"""Every carrier's emulator with one customer, and the settings that connect to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from hutong.logistics.emulators.cainiao import CainiaoEmulator
from hutong.logistics.emulators.jd import JdEmulator
from hutong.logistics.emulators.platforms import PlatformShippingEmulator
from hutong.logistics.emulators.sf import SfEmulator
from hutong.logistics.emulators.zto import ZtoEmulator
from tests.conftest import running

SF = {"partner_id": "HTSF0001", "check_word": "sf-check-word", "monthly_card": "7551234567"}
ZTO = {"app_key": "zto-app-1", "app_secret": "zto-secret"}
JD = {
    "customer_code": "010K1234567",
    "app_key": "jd-app",
    "app_secret": "jd-secret",
    "access_token": "jd-token",
}
CAINIAO = {
    "logistic_provider_id": "cn-resource-1",
    "app_secret": "cn-secret",
    "to_code": "CAINIAO_LINK",
}
TAOBAO = {"app_key": "12345678", "app_secret": "tb-secret", "session": "tb-session"}


@dataclass
class Carriers:
    emulators: dict[str, Any]
    urls: dict[str, str]  # carrier -> base URL
    platforms: PlatformShippingEmulator
    platforms_url: str

    def gateway(self, carrier: str) -> str:
        return self.urls[carrier] + {"sf": "/std/service", "cainiao": "/gateway/link.do"}.get(
            carrier, ""
        )

    def settings(self, carrier: str) -> dict[str, str]:
        return {"sf": SF, "zto": ZTO, "jd": JD, "cainiao": CAINIAO}[carrier]

    def customer(self, carrier: str) -> str:
        return {
            "sf": SF["partner_id"],
            "zto": ZTO["app_key"],
            "jd": JD["customer_code"],
            "cainiao": CAINIAO["logistic_provider_id"],
        }[carrier]

    def point_pushes_at(self, hutong_url: str) -> None:
        for carrier, emu in self.emulators.items():
            emu.ledger.push_urls[self.customer(carrier)] = f"{hutong_url}/tracking/{carrier}"


@contextmanager
def carriers() -> Iterator[Carriers]:
    emulators: dict[str, Any] = {
        "sf": SfEmulator({SF["partner_id"]: SF["check_word"]}, time_scale=0.001),
        "zto": ZtoEmulator({ZTO["app_key"]: ZTO["app_secret"]}, time_scale=0.001),
        "jd": JdEmulator(
            {JD["customer_code"]: (JD["app_key"], JD["app_secret"], JD["access_token"])},
            time_scale=0.001,
        ),
        "cainiao": CainiaoEmulator(
            {CAINIAO["logistic_provider_id"]: CAINIAO["app_secret"]}, time_scale=0.001
        ),
    }
    platforms = PlatformShippingEmulator({TAOBAO["app_key"]: TAOBAO["app_secret"]})
    with ExitStack() as stack:
        urls = {name: stack.enter_context(running(emu.app)) for name, emu in emulators.items()}
        platforms_url = stack.enter_context(running(platforms.app))
        try:
            yield Carriers(emulators, urls, platforms, platforms_url)
        finally:
            for emu in emulators.values():
                emu.close()
