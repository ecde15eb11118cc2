"""The order lifecycle: one state enum and one declared transition table.

::

    created ──► paid ──► shipped ──► delivered ──► completed
       │  └─► deposit_paid ─┘ (presale: the final payment makes it paid)
       └──────────┴──► cancelled (unpaid past the deadline; stock released)

    after payment, from paid/shipped/delivered/completed:
       refund_requested ──► partially_refunded | refunded | returned
       (a refused or withdrawn request goes back where it came from)
       partially_refunded ──► shipped/delivered/completed (the rest goes on) | refunded
       returned ──► refunded | partially_refunded

Anything else is an ``IllegalTransition`` (409), never a silent change.
"""

from __future__ import annotations

import enum

from hutong.errors import Conflict


class OrderState(enum.StrEnum):
    CREATED = "created"
    DEPOSIT_PAID = "deposit_paid"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    RETURNED = "returned"


S = OrderState
FULFILMENT = (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED)
AFTER_SALE = frozenset({S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.RETURNED})
TERMINAL = frozenset({S.CANCELLED, S.REFUNDED})
PAID_STATES = frozenset({*FULFILMENT, *AFTER_SALE})  # money was taken in full at some point

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.CREATED: frozenset({S.DEPOSIT_PAID, S.PAID, S.CANCELLED}),
    S.DEPOSIT_PAID: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset(
        {S.DELIVERED, S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.RETURNED}
    ),
    S.DELIVERED: frozenset(
        {S.COMPLETED, S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.RETURNED}
    ),
    S.COMPLETED: frozenset({S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.RETURNED}),
    S.REFUND_REQUESTED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.RETURNED, *FULFILMENT}),
    S.PARTIALLY_REFUNDED: frozenset(
        {
            S.SHIPPED,
            S.DELIVERED,
            S.COMPLETED,
            S.REFUND_REQUESTED,
            S.PARTIALLY_REFUNDED,
            S.REFUNDED,
            S.RETURNED,
        }
    ),
    S.RETURNED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "The order cannot make this change in its current state"


def check(current: OrderState, target: OrderState) -> None:
    """Raise IllegalTransition unless the table allows ``current`` → ``target``."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is final)"
        raise IllegalTransition(
            f"an order that is {current.value} cannot become {target.value}; "
            f"from {current.value} it may become: {allowed}"
        )
