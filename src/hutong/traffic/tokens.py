"""Signed click tokens: ``ct1.<kid>.<payload>.<mac>`` with rotating HMAC-SHA256 keys.

The payload is the 16-byte click id, a flags byte (bit 0: the click was flagged as a bot, so
no conversion may ever be credited to it) and the link code; the key id says which key signed it, so
keys rotate by adding a new first key and keeping the old ones for verification only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from hutong.traffic.errors import InvalidToken

VERSION = "ct1"
MAC_BYTES = 16


@dataclass(frozen=True)
class ClickClaim:
    click_id: str  # 32 hex characters; the first 12 are the click time in ms
    code: str
    kid: str
    bot: bool = False

    @property
    def clicked_at_ms(self) -> int:
        return int(self.click_id[:12], 16)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """Unpadded base64url (binascii directly: a third of base64.urlsafe_b64encode's cost)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) under one fixed key, its padded key blocks hashed once.

    Each MAC then costs two state copies and two short updates: 0.6 µs against 1.5 µs for
    ``hmac.digest``, which redoes the key schedule on every call. Same output, bit for bit.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class TokenSigner:
    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise ValueError("at least one token key is required")
        self.active_kid, self._active_key = keys[0]
        self._keys = dict(keys)
        self._prefix = f"{VERSION}.{self.active_kid}.".encode()
        self._head = f"{VERSION}.{self.active_kid}."
        self._mac = _HmacSha256(self._active_key)

    def sign(self, click_id: str, code: str, *, bot: bool = False) -> str:
        return self.sign_raw(bytes.fromhex(click_id), code, bot=bot)

    def sign_raw(self, click_id: bytes, code: str, *, bot: bool = False) -> str:
        """``sign`` for the 16 raw bytes of a click id (the jump has them before the hex)."""
        body = _b64(click_id + (b"\x01" if bot else b"\x00") + code.encode())
        mac = self._mac.digest(self._prefix + body.encode())
        return f"{self._head}{body}.{_b64(mac[:MAC_BYTES])}"

    def verify(self, token: str) -> ClickClaim:
        """The claim inside ``token``; InvalidToken if it is malformed, forged or unknown-key."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION or len(token) > 200:
            raise InvalidToken("click token is malformed")
        _, kid, body, mac_text = parts
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("click token was signed with an unknown key")
        try:
            mac = _unb64(mac_text)
            payload = _unb64(body)
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("click token is malformed") from exc
        if _b64(mac) != mac_text or _b64(payload) != body:
            # only the canonical encoding is accepted, so one claim has exactly one token
            raise InvalidToken("click token is not canonically encoded")
        expected = hmac.new(key, f"{VERSION}.{kid}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected[:MAC_BYTES]):
            raise InvalidToken("click token signature does not verify")
        if len(payload) < 18:
            raise InvalidToken("click token is malformed")
        try:
            code = payload[17:].decode()
        except UnicodeDecodeError as exc:
            raise InvalidToken("click token is malformed") from exc
        return ClickClaim(payload[:16].hex(), code, kid, bot=bool(payload[16] & 1))
