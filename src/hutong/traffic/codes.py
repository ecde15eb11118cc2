"""Short codes for links and passcodes (口令), and finding a passcode in pasted text."""

from __future__ import annotations

import re

from hutong.ids import random_string

CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LENGTH = 8  # 62**8 ≈ 2**47.6: a million links fill 1e-8 of the space
# Passcodes are read and retyped by people: no 0/O, 1/l/I, j/i (Kutt's alphabet), 11 long as
# Taobao's ¥KXgaYSSK6I0¥, which gives 53**11 ≈ 2**63 possibilities.
PASSCODE_ALPHABET = "abcdefghkmnpqrstuvwxyzABCDEFGHKLMNPQRSTUVWXYZ23456789"
PASSCODE_LENGTH = 11
PASSCODE_DELIMITERS = "￥¥$€₤"

_CODE_RE = re.compile(r"^[0-9A-Za-z_-]{3,32}$")
_PASSCODE_RUN = re.compile(r"[0-9A-Za-z]+")
_PASSCODE_SET = frozenset(PASSCODE_ALPHABET)


def new_link_code(length: int = CODE_LENGTH) -> str:
    return random_string(length, CODE_ALPHABET)


def is_valid_code(code: str) -> bool:
    """Custom and generated link codes: 3-32 of ``[0-9A-Za-z_-]``."""
    return bool(_CODE_RE.match(code))


def new_passcode() -> str:
    return random_string(PASSCODE_LENGTH, PASSCODE_ALPHABET)


def render_passcode(code: str, title: str, app_name: str) -> str:
    """The text a user copies: the code between ￥ signs, wrapped in a short message."""
    return f"【{title}】复制这段话 ￥{code}￥ 打开{app_name}"


def find_passcodes(text: str) -> list[str]:
    """Candidate passcodes anywhere in ``text``, most likely first.

    Users paste whole messages, with the code between any of the usual delimiters or bare;
    every maximal alphanumeric run of exactly the passcode length and alphabet is a candidate,
    those that sit between delimiters first.
    """
    if len(text) > 4096:
        text = text[:4096]
    delimited: list[str] = []
    bare: list[str] = []
    for match in _PASSCODE_RUN.finditer(text):
        run = match.group()
        if len(run) != PASSCODE_LENGTH or not _PASSCODE_SET.issuperset(run):
            continue
        before = text[match.start() - 1] if match.start() > 0 else ""
        after = text[match.end()] if match.end() < len(text) else ""
        bucket = (
            delimited if before in PASSCODE_DELIMITERS or after in PASSCODE_DELIMITERS else bare
        )
        if run not in delimited and run not in bare:
            bucket.append(run)
    return delimited + bare
