"""Writing a shipment back to the shelf platform: one module per platform, one protocol.

Each platform's open API signs the same way (Taobao TOP, JD JOS and Pinduoduo alike): the
parameters but ``sign``, sorted by name and concatenated as ``key + value`` with no separator,
wrapped in the app secret on both sides, MD5, upper-case hex. Sources: TOP's "API调用签名"
(sign_method=md5), JOS's and Pinduoduo's open-platform signing pages, as their SDKs implement
them. The carrier codes each platform uses (``COMPANY``) are the ones in common use in
integrations, not read from the platforms' code tables: operators can correct them in the
seller's platform account settings (``company_codes``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx


def top_sign(params: Mapping[str, str], secret: str) -> str:
    joined = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()  # noqa: S324


@dataclass(frozen=True)
class PlatformAccount:
    platform_id: str
    settings: Mapping[str, str]
    gateway_url: str


@dataclass(frozen=True)
class WriteBack:
    ok: bool
    error: str = ""


class ShippingCall(Protocol):
    platform_id: str
    settings_required: tuple[str, ...]
    settings_secret: tuple[str, ...]

    def send(
        self,
        account: PlatformAccount,
        order_ref: str,
        carrier: str,
        waybill_no: str,
        client: httpx.Client,
    ) -> WriteBack:
        """Tell the platform the order shipped with ``carrier`` under ``waybill_no``."""
        ...
