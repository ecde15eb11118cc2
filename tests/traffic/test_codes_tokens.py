"""Properties of link codes, click tokens and passcodes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hutong.traffic.codes import (
    CODE_ALPHABET,
    PASSCODE_ALPHABET,
    PASSCODE_LENGTH,
    find_passcodes,
    is_valid_code,
    new_link_code,
    new_passcode,
    render_passcode,
)
from hutong.traffic.errors import InvalidToken
from hutong.traffic.tokens import TokenSigner

CLICK_IDS = st.binary(min_size=16, max_size=16).map(bytes.hex)
CODES = st.text(alphabet=CODE_ALPHABET + "_-", min_size=3, max_size=32)
SIGNER = TokenSigner((("k2", b"new key"), ("k1", b"old key")))


def test_codes_are_valid_and_do_not_repeat() -> None:
    codes = {new_link_code() for _ in range(20_000)}
    assert len(codes) == 20_000 and all(is_valid_code(c) for c in codes)
    passcodes = {new_passcode() for _ in range(20_000)}
    assert len(passcodes) == 20_000
    assert all(len(p) == PASSCODE_LENGTH and set(p) <= set(PASSCODE_ALPHABET) for p in passcodes)
    assert not set("0O1lIij") & set(PASSCODE_ALPHABET)  # nothing a person misreads


@given(CLICK_IDS, CODES, st.booleans())
def test_token_round_trip(click_id: str, code: str, bot: bool) -> None:
    claim = SIGNER.verify(SIGNER.sign(click_id, code, bot=bot))
    assert (claim.click_id, claim.code, claim.bot, claim.kid) == (click_id, code, bot, "k2")


@given(CLICK_IDS, CODES, st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_changed_byte_is_refused(click_id: str, code: str, pos: int, flip: int) -> None:
    token = SIGNER.sign(click_id, code)
    raw = bytearray(token.encode())
    i = pos % len(raw)
    raw[i] = (raw[i] + flip) % 128 or 1
    tampered = raw.decode("ascii", "replace")
    if tampered == token:
        return
    with pytest.raises(InvalidToken):
        SIGNER.verify(tampered)


@given(st.text(max_size=300))
def test_garbage_is_refused_not_crashing(text: str) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.verify(text)


def test_keys_rotate() -> None:
    old = TokenSigner((("k1", b"old key"),))
    token = old.sign("0" * 32, "abc")
    assert SIGNER.verify(token).kid == "k1"  # still verifies after k2 took over signing
    assert SIGNER.sign("0" * 32, "abc").split(".")[1] == "k2"
    retired = TokenSigner((("k2", b"new key"),))
    with pytest.raises(InvalidToken):
        retired.verify(token)  # once k1 is dropped its tokens stop verifying


@given(
    st.text(max_size=200), st.text(max_size=200), st.sampled_from(["￥", "¥", "$", "€", " ", ""])
)
def test_passcode_is_found_anywhere_in_pasted_text(before: str, after: str, delim: str) -> None:
    code = new_passcode()
    text = f"{before}{delim}{code}{delim}{after}"
    boundary_ok = not (
        re.search(r"[0-9A-Za-z]$", before + delim) or re.match(r"^[0-9A-Za-z]", delim + after)
    )
    if boundary_ok:
        assert code in find_passcodes(text)


def test_rendered_passcode_text_resolves() -> None:
    code = new_passcode()
    assert find_passcodes(render_passcode(code, "天猫双11", "淘宝")) == [code]
    assert find_passcodes(f"8¥{code}¥ https://m.tb.cn/h.x 【标题】")[0] == code
