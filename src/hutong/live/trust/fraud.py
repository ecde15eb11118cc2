"""The fraud patterns that inflate a streamer's record, found in hutong's own orders and
commissions, each with its evidence.

- **Self-purchase**: orders credited to the streamer (a commission to its tenant) bought by an
  account its platform linked to the streamer (same real name, device or payment account).
- **Refund farming**: orders refunded after the streamer's commission on them was confirmed,
  the pattern of buying through one's own links, letting the commission confirm, then taking
  the money back. Flagged at ``FARMING_MIN_ORDERS`` such orders and ``FARMING_MIN_SHARE`` of
  the streamer's confirmed commissions in the window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.commerce.models import Order
from hutong.live.models import Streamer
from hutong.live.trust.models import LinkedAccount
from hutong.payments.models import Refund
from hutong.settlement.models import Commission

FARMING_MIN_ORDERS = 2
FARMING_MIN_SHARE = 0.10
EVIDENCE_ORDERS = 20  # order ids kept as evidence


def self_purchases(session: Session, streamer: Streamer, since: dt.datetime) -> dict[str, Any]:
    if streamer.tenant_id is None:
        return {}
    linked = select(LinkedAccount.buyer_hash).where(LinkedAccount.streamer_id == streamer.id)
    rows = session.execute(
        select(Order.id, Order.buyer_hash)
        .join(Commission, Commission.order_id == Order.id)
        .where(
            Commission.payee_id == streamer.tenant_id,
            Commission.paid_at >= since,
            Order.buyer_hash.in_(linked.scalar_subquery()),
        )
        .distinct()
        .order_by(Order.id)
    ).all()
    if not rows:
        return {}
    return {
        "orders": len(rows),
        "order_ids": [r[0] for r in rows[:EVIDENCE_ORDERS]],
        "accounts": sorted({r[1][:8] + "…" for r in rows}),  # masked
    }


def refund_farming(session: Session, streamer: Streamer, since: dt.datetime) -> dict[str, Any]:
    if streamer.tenant_id is None:
        return {}
    confirmed = list(
        session.execute(
            select(Commission.order_id, Commission.confirmed_at).where(
                Commission.payee_id == streamer.tenant_id,
                Commission.confirmed_at.is_not(None),
                Commission.confirmed_at >= since,
            )
        ).all()
    )
    if not confirmed:
        return {}
    when: dict[str, dt.datetime] = {order_id: at for order_id, at in confirmed if at}
    late = sorted(
        {
            order_id
            for order_id, refunded_at in session.execute(
                select(Refund.order_id, Refund.succeeded_at).where(
                    Refund.order_id.in_(list(when)), Refund.succeeded_at.is_not(None)
                )
            )
            if refunded_at is not None and refunded_at > when[order_id]
        }
    )
    share = len(late) / len(when)
    if len(late) < FARMING_MIN_ORDERS or share < FARMING_MIN_SHARE:
        return {}
    return {
        "orders": len(late),
        "confirmed_orders": len(when),
        "share": round(share, 4),
        "order_ids": late[:EVIDENCE_ORDERS],
    }


DETECTORS = {"self_purchase": self_purchases, "refund_farming": refund_farming}
