"""Opaque, unguessable identifiers for every object that crosses a boundary.

An id is a short type prefix and 20 characters of Crockford base32 (100 random bits), e.g.
``cmp_8x2k...``: the prefix makes logs readable, the randomness makes ids unenumerable.
"""

from __future__ import annotations

import secrets

CROCKFORD32 = "0123456789abcdefghjkmnpqrstvwxyz"


def random_string(length: int, alphabet: str) -> str:
    """``length`` characters drawn uniformly from ``alphabet`` with the OS CSPRNG."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_id(prefix: str) -> str:
    """A fresh id such as ``lnk_5q0v...`` (prefix plus 100 random bits)."""
    return f"{prefix}_{random_string(20, CROCKFORD32)}"
