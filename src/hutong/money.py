"""Money as people read it. hutong counts integer fen everywhere; only display turns fen into
yuan, by integer arithmetic (never a float, which would print 0.1 + 0.2 fen wrongly)."""

from __future__ import annotations


def yuan(fen: int, grouping: bool = True) -> str:
    """123456 -> '1,234.56'; -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    body = f"{whole:,}" if grouping else str(whole)
    return f"{sign}{body}.{cents:02d}"
