"""Building a carrier's (or the platforms') emulator with credentials kept in a directory, for
``hutong sandbox``; see ``payments.emulators.launch`` for how account.json is used."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from hutong.payments.emulators.launch import Launched


def _load_or_make(directory: Path, make: Callable[[], dict[str, str]]) -> dict[str, str]:
    path = directory / "keys.json"
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        return keys
    directory.mkdir(parents=True, exist_ok=True)
    keys = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh, indent=1)
    return keys


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def sf(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.logistics.emulators.sf import SfEmulator

    k = _load_or_make(
        directory,
        lambda: {
            "partner_id": "HT" + _digits(8),
            "check_word": secrets.token_urlsafe(24),
            "monthly_card": _digits(10),
        },
    )
    emu = SfEmulator({k["partner_id"]: k["check_word"]}, time_scale=time_scale)
    emu.ledger.push_urls[k["partner_id"]] = f"{hutong_url}/tracking/sf"
    return Launched(emu.app, {"carrier": "sf", "settings": dict(k)}, "/std/service", emu.close)


def zto(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.logistics.emulators.zto import ZtoEmulator

    k = _load_or_make(
        directory,
        lambda: {"app_key": secrets.token_hex(8), "app_secret": secrets.token_urlsafe(24)},
    )
    emu = ZtoEmulator({k["app_key"]: k["app_secret"]}, time_scale=time_scale)
    emu.ledger.push_urls[k["app_key"]] = f"{hutong_url}/tracking/zto"
    return Launched(emu.app, {"carrier": "zto", "settings": dict(k)}, "", emu.close)


def jd(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.logistics.emulators.jd import JdEmulator

    k = _load_or_make(
        directory,
        lambda: {
            "customer_code": "010K" + _digits(6),
            "app_key": secrets.token_hex(16),
            "app_secret": secrets.token_hex(16),
            "access_token": secrets.token_hex(16),
        },
    )
    emu = JdEmulator(
        {k["customer_code"]: (k["app_key"], k["app_secret"], k["access_token"])},
        time_scale=time_scale,
    )
    emu.ledger.push_urls[k["customer_code"]] = f"{hutong_url}/tracking/jd"
    return Launched(emu.app, {"carrier": "jd", "settings": dict(k)}, "", emu.close)


def cainiao(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.logistics.emulators.cainiao import CainiaoEmulator

    k = _load_or_make(
        directory,
        lambda: {
            "logistic_provider_id": secrets.token_hex(16),
            "app_secret": secrets.token_urlsafe(24),
            "to_code": "CAINIAO_LINK",
        },
    )
    emu = CainiaoEmulator({k["logistic_provider_id"]: k["app_secret"]}, time_scale=time_scale)
    emu.ledger.push_urls[k["logistic_provider_id"]] = f"{hutong_url}/tracking/cainiao"
    return Launched(
        emu.app, {"carrier": "cainiao", "settings": dict(k)}, "/gateway/link.do", emu.close
    )


def platforms(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.logistics.emulators.platforms import PlatformShippingEmulator

    k = _load_or_make(
        directory,
        lambda: {
            "app_key": _digits(8),
            "app_secret": secrets.token_hex(16),
            "session": secrets.token_hex(16),
            "client_id": secrets.token_hex(8),
            "client_secret": secrets.token_hex(16),
        },
    )
    emu = PlatformShippingEmulator(
        {k["app_key"]: k["app_secret"], k["client_id"]: k["client_secret"]}
    )
    account = {
        "taobao": {
            "platform_id": "taobao",
            "gateway_path": "/router/rest",
            "settings": {
                "app_key": k["app_key"],
                "app_secret": k["app_secret"],
                "session": k["session"],
            },
        },
        "jd": {
            "platform_id": "jd",
            "gateway_path": "/routerjson",
            "settings": {
                "app_key": k["app_key"],
                "app_secret": k["app_secret"],
                "access_token": k["session"],
            },
        },
        "pinduoduo": {
            "platform_id": "pinduoduo",
            "gateway_path": "/api/router",
            "settings": {
                "client_id": k["client_id"],
                "client_secret": k["client_secret"],
                "access_token": k["session"],
            },
        },
    }
    return Launched(emu.app, account, "", emu.close)


def alliances(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    from hutong.settlement.alliances.emulator import launch

    return launch(directory, time_scale, hutong_url)


LAUNCHERS: dict[str, Callable[[Path, float, str], Launched]] = {
    "sf": sf,
    "zto": zto,
    "jd": jd,
    "cainiao": cainiao,
    "platforms": platforms,
    "alliances": alliances,
}
