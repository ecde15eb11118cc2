"""Reading what another party answered: a payment provider, a carrier, an ad platform.

Their answers are read field by field, and one that is not what the party's API documents (a
field missing or empty, a value of another type, a status nobody listed) is an answer that
could not be read: the adapter reports it as a failure to read, which the caller retries or
asks about again, never as an outcome. A guess here could refund twice, book a payment of
another amount, or send a parcel the carrier took to a second carrier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What reading a malformed answer raises (LookupError: a missing key or a list too short;
# ArithmeticError: Decimal's InvalidOperation)
MALFORMED = (LookupError, ValueError, TypeError, AttributeError, ArithmeticError)


def malformed(exc: Exception, text: str = "") -> str:
    """The error kept for an answer that is not what the party's API says it sends."""
    return f"malformed answer ({type(exc).__name__}: {exc})" + (f": {text[:200]}" if text else "")


def required(data: Mapping[str, object], name: str) -> str:
    """A field an answer must carry, as text; KeyError if it is missing or empty."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise KeyError(name)
    return value


def listed(data: Mapping[str, Any], name: str) -> list[Any]:
    """A list an answer must carry (it may be empty); KeyError if it is missing."""
    value = data.get(name)
    if not isinstance(value, list):
        raise KeyError(name)
    return value
