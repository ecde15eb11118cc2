"""Building a provider emulator with its keys kept in a directory, for ``hutong sandbox``.

The first start makes fresh keys for the emulated provider and for one merchant and writes
``account.json``: the settings that merchant registers with hutong (``POST
/v1/provider-accounts``), private key included, since in the sandbox the operator is both
sides. Later starts reuse the same keys, so a registered account keeps working.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hutong.payments import crypto


@dataclass
class Launched:
    app: Any
    account: dict[str, Any]  # the body of POST /v1/provider-accounts, gateway_url left out
    gateway_path: str  # appended to the emulator's base URL
    close: Callable[[], None]


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


def _pair() -> tuple[str, str]:
    key = crypto.new_rsa_key()
    return crypto.private_pem(key), crypto.public_pem(key)


def sandbox(directory: Path, time_scale: float) -> Launched:
    from hutong.payments.emulators.sandbox import SandboxEmulator

    keys = _load_or_make(
        directory,
        lambda: {"merchant_id": "sbx-" + secrets.token_hex(4), "secret": secrets.token_urlsafe(24)},
    )
    emu = SandboxEmulator({keys["merchant_id"]: keys["secret"]}, time_scale=time_scale)
    return Launched(emu.app, {"provider": "sandbox", "settings": dict(keys)}, "", emu.close)


def alipay(directory: Path, time_scale: float) -> Launched:
    from hutong.payments.emulators.alipay import AlipayApp, AlipayEmulator

    def make() -> dict[str, str]:
        app_private, app_public = _pair()
        ali_private, ali_public = _pair()
        return {
            "app_id": "2021" + "".join(secrets.choice("0123456789") for _ in range(12)),
            "app_private": app_private,
            "app_public": app_public,
            "ali_private": ali_private,
            "ali_public": ali_public,
        }

    k = _load_or_make(directory, make)
    emu = AlipayEmulator(
        [AlipayApp(k["app_id"], k["app_public"])], k["ali_private"], time_scale=time_scale
    )
    settings = {
        "app_id": k["app_id"],
        "app_private_key": k["app_private"],
        "alipay_public_key": k["ali_public"],
    }
    return Launched(emu.app, {"provider": "alipay", "settings": settings}, "/gateway.do", emu.close)


def wechatpay(directory: Path, time_scale: float) -> Launched:
    from hutong.payments.emulators.wechatpay import WechatMerchant, WechatPayEmulator

    def make() -> dict[str, str]:
        merchant_private, merchant_public = _pair()
        platform_private, platform_public = _pair()
        return {
            "mchid": "19" + "".join(secrets.choice("0123456789") for _ in range(8)),
            "appid": "wx" + secrets.token_hex(8),
            "serial": secrets.token_hex(20).upper(),
            "merchant_private": merchant_private,
            "merchant_public": merchant_public,
            "platform_private": platform_private,
            "platform_public": platform_public,
            "key_id": "PUB_KEY_ID_" + secrets.token_hex(16).upper(),
            "apiv3_key": secrets.token_hex(16),
        }

    k = _load_or_make(directory, make)
    merchant = WechatMerchant(
        k["mchid"], k["appid"], k["serial"], k["merchant_public"], k["apiv3_key"]
    )
    emu = WechatPayEmulator([merchant], k["platform_private"], k["key_id"], time_scale=time_scale)
    settings = {
        "mchid": k["mchid"],
        "appid": k["appid"],
        "merchant_serial_no": k["serial"],
        "merchant_private_key": k["merchant_private"],
        "platform_public_key": k["platform_public"],
        "platform_public_key_id": k["key_id"],
        "apiv3_key": k["apiv3_key"],
    }
    return Launched(emu.app, {"provider": "wechatpay", "settings": settings}, "", emu.close)


def unionpay(directory: Path, time_scale: float) -> Launched:
    from hutong.payments.emulators.unionpay import UnionPayEmulator, UnionPayKeys

    def make() -> dict[str, str]:
        generated = UnionPayKeys.generate()
        return {
            "mer_id": "777" + "".join(secrets.choice("0123456789") for _ in range(12)),
            "root_cert": generated.root_cert,
            "signer_key": generated.signer_key,
            "signer_cert": generated.signer_cert,
            "merchant_key": generated.merchant_key,
            "merchant_cert": generated.merchant_cert,
        }

    k = _load_or_make(directory, make)
    keys = UnionPayKeys(
        k["root_cert"], k["signer_key"], k["signer_cert"], k["merchant_key"], k["merchant_cert"]
    )
    emu = UnionPayEmulator({k["mer_id"]: k["merchant_cert"]}, keys, time_scale=time_scale)
    settings = {
        "mer_id": k["mer_id"],
        "sign_private_key": k["merchant_key"],
        "sign_cert": k["merchant_cert"],
        "root_cert": k["root_cert"],
    }
    return Launched(emu.app, {"provider": "unionpay", "settings": settings}, "", emu.close)


LAUNCHERS: dict[str, Callable[[Path, float], Launched]] = {
    "sandbox": sandbox,
    "alipay": alipay,
    "wechatpay": wechatpay,
    "unionpay": unionpay,
}
