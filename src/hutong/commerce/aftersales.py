"""After-sales: a buyer asks for a refund (with or without sending the goods back); the seller
approves or rejects; a return is refunded when the goods arrive (and go back on the shelf).

The order shows it: ``refund_requested`` while a request is open (it remembers where it was,
and a rejected request returns it there), ``returned`` once goods are back, then
``partially_refunded`` or ``refunded`` when the money has gone back through the provider. The
money itself moves in ``payments``: ``approve`` and ``goods_received`` return what must be
refunded, and the caller refunds it after their transaction commits (a provider is never
called inside one)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.commerce import stock
from hutong.commerce.models import AfterSale, Order, OrderLine
from hutong.commerce.orders import transition
from hutong.commerce.states import FULFILMENT, OrderState, check
from hutong.errors import Conflict, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.store import utcnow
from hutong.tenants.principal import Principal

S = OrderState
OPEN = ("requested", "approved")


def request(
    session: Session,
    who: Principal,
    order: Order,
    kind: str,
    amount_fen: int,
    reason: str,
    lines: list[dict[str, object]],
) -> AfterSale:
    who.require_admin()
    check(OrderState(order.state), S.REFUND_REQUESTED)  # 409 before anything else
    if session.scalar(
        select(AfterSale.id).where(AfterSale.order_id == order.id, AfterSale.state.in_(OPEN))
    ):
        raise Conflict("the order already has an open after-sale request")
    if amount_fen > order.paid_fen - order.refunded_fen:
        raise InvalidInput(f"at most {order.paid_fen - order.refunded_fen} fen can be refunded")
    _check_lines(session, order, lines)
    previous = OrderState(order.state)
    transition(
        session, order, S.REFUND_REQUESTED, "after_sale_requested", kind=kind, amount_fen=amount_fen
    )
    order.resume_state = previous.value
    sale = AfterSale(
        id=new_id("afs"),
        order_id=order.id,
        kind=kind,
        amount_fen=amount_fen,
        reason=reason,
        lines=lines,
        state="requested",
        created_at=utcnow(),
    )
    session.add(sale)
    session.flush()
    return sale


def _check_lines(session: Session, order: Order, lines: list[dict[str, object]]) -> None:
    bought = {
        line.sku_id: line.quantity
        for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    }
    for line in lines:
        if bought.get(str(line["sku_id"]), 0) < int(str(line["quantity"])):
            raise InvalidInput(f"the order has fewer than {line['quantity']} of {line['sku_id']}")


def reject(session: Session, who: Principal, sale: AfterSale, order: Order, note: str) -> AfterSale:
    who.require_admin()
    _must_be(sale, "requested")
    resume = OrderState(order.resume_state or S.PAID.value)
    if resume not in FULFILMENT and resume is not S.PARTIALLY_REFUNDED:
        resume = S.PAID
    transition(session, order, resume, "after_sale_rejected", after_sale_id=sale.id, note=note)
    sale.state, sale.note, sale.decided_at = "rejected", note, utcnow()
    return sale


def approve(session: Session, who: Principal, sale: AfterSale) -> int:
    """Approve; the amount to refund now (0 for a return: it waits for the goods)."""
    who.require_admin()
    _must_be(sale, "requested")
    sale.decided_at = utcnow()
    if sale.kind == "return_refund":
        sale.state = "approved"
        return 0
    sale.state = "refunded"
    return sale.amount_fen


def goods_received(session: Session, who: Principal, sale: AfterSale, order: Order) -> int:
    """The returned goods arrived: back on the shelf, the order ``returned``; the amount to
    refund now."""
    who.require_admin()
    _must_be(sale, "approved")
    for line in sale.lines:
        stock.restock(session, str(line["sku_id"]), int(str(line["quantity"])))
    transition(
        session, order, S.RETURNED, "goods_returned", after_sale_id=sale.id, lines=sale.lines
    )
    sale.state = "refunded"
    return sale.amount_fen


def _must_be(sale: AfterSale, state: str) -> None:
    if sale.state != state:
        raise Conflict(f"the after-sale request is {sale.state}, not {state}")


def sale_for(session: Session, order_ids: set[str] | None, sale_id: str) -> AfterSale:
    sale = session.get(AfterSale, sale_id)
    if sale is None or (order_ids is not None and sale.order_id not in order_ids):
        raise NotFound(f"after-sale request {sale_id} not found")
    return sale
