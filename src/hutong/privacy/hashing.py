"""Keyed hashes for buyer keys and masking for logs and pages.

A bare hash of a phone number is reversible by enumerating the ~10^10 numbers; an HMAC under a
secret key is not, and rotating or destroying the key unlinks every stored hash at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re


class KeyedHasher:
    def __init__(self, key: bytes) -> None:
        # keyed once: each hash copies the prepared state instead of redoing the key schedule
        # (1.1 µs a hash against 1.5; the live intake hashes every viewer event)
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def hash(self, kind: str, value: str) -> str:
        """``kind`` separates namespaces, so a phone and a device id never share a hash."""
        mac = self._keyed.copy()
        mac.update(f"{kind}:{normalise(kind, value)}".encode())
        return mac.hexdigest()[:32]


def normalise(kind: str, value: str) -> str:
    value = value.strip()
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return digits[-11:] if len(digits) >= 11 else digits
    if kind in {"device", "idfa", "oaid", "imei"}:
        return value.lower()
    return value


def mask_phone(phone: str) -> str:
    """138****5678, the way Chinese platforms show numbers."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_hash(value: str | None) -> str:
    """Logs and pages show a keyed hash only as its first characters."""
    if not value:
        return ""
    return value[:6] + "…"


def mask_name(name: str) -> str:
    """张三丰 -> 张**: the family name only."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_address(ship_to: dict[str, str]) -> dict[str, str]:
    """A shipping address as pages and APIs show it: region kept, person and street masked."""
    return {
        "name": mask_name(ship_to.get("name", "")),
        "phone": mask_phone(ship_to.get("phone", "")),
        "province": ship_to.get("province", ""),
        "city": ship_to.get("city", ""),
        "district": ship_to.get("district", ""),
        "address": "***" if ship_to.get("address") else "",
    }
