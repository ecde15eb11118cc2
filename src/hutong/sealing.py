"""Sealing the secrets tenants hand hutong (providers' and carriers' keys): AES-256-GCM under a
key derived from the local PII key with a purpose label, so a database dump alone reveals none
of them and the key can be rotated with the PII key."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Sealer:
    def __init__(self, pii_key: bytes) -> None:
        # a separate key for this purpose, derived with a label (domain separation)
        self._aead = AESGCM(hashlib.sha256(b"hutong/provider-accounts/v1\0" + pii_key).digest())

    def seal(self, values: dict[str, str]) -> str:
        nonce = os.urandom(12)
        data = self._aead.encrypt(nonce, json.dumps(values).encode(), b"provider-account")
        return base64.b64encode(nonce + data).decode()

    def unseal(self, sealed: str) -> dict[str, str]:
        if not sealed:
            return {}
        raw = base64.b64decode(sealed)
        values: dict[str, str] = json.loads(
            self._aead.decrypt(raw[:12], raw[12:], b"provider-account")
        )
        return values
