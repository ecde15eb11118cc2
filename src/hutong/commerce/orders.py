"""Order actions: the only code that changes an order. Every change goes through
``transition``, which checks the declared table (``states``) and appends an ``OrderEvent``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.commerce import interop, queries, stock
from hutong.commerce.catalog import seller_platform
from hutong.commerce.errors import ClickTokenNotYours, OutsidePaymentWindow, SkuNotFound
from hutong.commerce.models import Order, OrderEvent, OrderLine, Sku
from hutong.commerce.schemas import OrderIn
from hutong.commerce.states import OrderState, check
from hutong.errors import Conflict, InvalidInput
from hutong.ids import new_id
from hutong.privacy.hashing import KeyedHasher
from hutong.store import utcnow
from hutong.tenants.models import Tenant
from hutong.tenants.principal import Principal
from hutong.traffic.adplatforms.protocol import ORDER_SUBMITTED
from hutong.traffic.adplatforms.service import queue_conversion
from hutong.traffic.models import Campaign, Link
from hutong.traffic.tokens import ClickClaim, TokenSigner

S = OrderState


def transition(
    session: Session, order: Order, target: OrderState, cause: str, **detail: Any
) -> OrderEvent:
    """Move ``order`` to ``target`` (IllegalTransition if the table forbids it) and record why."""
    current = OrderState(order.state)
    check(current, target)
    now = utcnow()
    event = OrderEvent(
        order_id=order.id,
        from_state=current.value,
        to_state=target.value,
        cause=cause,
        detail=detail,
        at=now,
    )
    order.state = target.value
    order.updated_at = now
    session.add(event)
    return event


# -- creating ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Priced:
    sku: Sku
    quantity: int
    deposit_fen: int  # 0 unless a presale line


def create_order(
    session: Session,
    who: Principal,
    data: OrderIn,
    signer: TokenSigner,
    hasher: KeyedHasher,
) -> Order:
    """Create an order and reserve its stock, all or nothing (InsufficientStock otherwise).

    A click token is verified (InvalidToken if forged) and must come from one of the seller's
    own campaigns (or its shelf platform's) on this platform; without one the order is organic.
    """
    platform_id = seller_platform(session, who)
    now = utcnow()
    priced = _price(session, who, data, now)
    claim, link = _click(session, who, data.click_token, platform_id, signer)
    terms = interop.terms_of(session, platform_id)
    total = sum(p.sku.price_fen * p.quantity for p in priced)
    deposit = sum(p.deposit_fen * p.quantity for p in priced)
    presale = deposit > 0
    order = Order(
        id=new_id("ord"),
        seller_id=who.tenant_id,
        platform_id=platform_id,
        external_ref=data.external_ref,
        state=S.CREATED.value,
        currency="CNY",
        total_fen=total,
        deposit_fen=deposit,
        paid_fen=0,
        refunded_fen=0,
        buyer_hash=hasher.hash("buyer", data.buyer_ref),
        device_hash=hasher.hash("device", data.device_ref) if data.device_ref else None,
        ship_to=data.ship_to.model_dump(),
        region=data.ship_to.province,
        click_id=claim.click_id if claim else None,
        click_bot=bool(claim and claim.bot),
        link_id=link.id if link else None,
        campaign_id=link.campaign_id if link else None,
        presale=presale,
        payment_due_at=now + dt.timedelta(minutes=terms.payment_timeout_minutes),
        final_due_from=_presale_window(priced)[0] if presale else None,
        final_due_until=_presale_window(priced)[1] if presale else None,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an order with external_ref {data.external_ref!r} exists") from exc
    for p in sorted(priced, key=lambda p: p.sku.id):  # one lock order: no deadlocks
        stock.reserve(session, p.sku.id, p.quantity)
        session.add(
            OrderLine(
                id=new_id("oln"),
                order_id=order.id,
                sku_id=p.sku.id,
                quantity=p.quantity,
                unit_price_fen=p.sku.price_fen,
                total_fen=p.sku.price_fen * p.quantity,
            )
        )
    session.add(
        OrderEvent(
            order_id=order.id,
            from_state=None,
            to_state=S.CREATED.value,
            cause="order_created",
            detail={"organic": claim is None, "presale": presale},
            at=now,
        )
    )
    if claim is not None and not claim.bot:
        queue_conversion(  # the ad system whose tap led here learns of the order
            session,
            click_id=claim.click_id,
            event=ORDER_SUBMITTED,
            order_ref=order.id,
            reporter_id=who.tenant_id,
            amount_fen=total,
            at=now,
        )
    session.flush()
    return order


def _price(session: Session, who: Principal, data: OrderIn, now: dt.datetime) -> list[Priced]:
    priced = []
    for line in data.lines:
        sku = session.get(Sku, line.sku_id)
        if sku is None or sku.seller_id != who.tenant_id:
            raise SkuNotFound(f"sku {line.sku_id} not found")
        in_presale = (
            sku.presale_deposit_fen is not None
            and sku.presale_final_starts_at is not None
            and now < sku.presale_final_starts_at
        )
        priced.append(
            Priced(sku, line.quantity, (sku.presale_deposit_fen or 0) if in_presale else 0)
        )
    kinds = {p.deposit_fen > 0 for p in priced}
    if len(kinds) > 1:
        raise InvalidInput("presale and regular items must be ordered separately")
    if kinds == {True} and len({_window(p.sku) for p in priced}) > 1:
        raise InvalidInput("presale items with different final-payment windows")
    return priced


def _window(sku: Sku) -> tuple[dt.datetime, dt.datetime]:
    assert sku.presale_final_starts_at is not None and sku.presale_final_ends_at is not None
    return sku.presale_final_starts_at, sku.presale_final_ends_at


def _presale_window(priced: list[Priced]) -> tuple[dt.datetime, dt.datetime]:
    return _window(priced[0].sku)


def _click(
    session: Session,
    who: Principal,
    token: str | None,
    platform_id: str,
    signer: TokenSigner,
) -> tuple[ClickClaim | None, Link | None]:
    if token is None:
        return None, None
    claim = signer.verify(token)
    link = session.scalar(select(Link).where(Link.code == claim.code))
    campaign = session.get(Campaign, link.campaign_id) if link else None
    owners = {who.tenant_id, who.parent_id}
    if (
        link is None
        or campaign is None
        or campaign.tenant_id not in owners
        or link.target_platform_id != platform_id
    ):
        raise ClickTokenNotYours(
            "the click token is not from one of your campaigns on this platform"
        )
    return claim, link


# -- paying -----------------------------------------------------------------------------
class Phase:
    FULL = "full"
    DEPOSIT = "deposit"
    FINAL = "final"


def phase_due(order: Order, now: dt.datetime) -> tuple[str, int]:
    """Which payment the order expects now and how much (OutsidePaymentWindow if none)."""
    state = OrderState(order.state)
    if state is S.CREATED:
        if now >= order.payment_due_at:
            raise OutsidePaymentWindow("the order's payment deadline has passed")
        if order.presale:
            return Phase.DEPOSIT, order.deposit_fen
        return Phase.FULL, order.total_fen
    if state is S.DEPOSIT_PAID:
        assert order.final_due_from is not None and order.final_due_until is not None
        if not order.final_due_from <= now < order.final_due_until:
            raise OutsidePaymentWindow(
                f"the final payment is due from {order.final_due_from.isoformat()} "
                f"until {order.final_due_until.isoformat()}"
            )
        return Phase.FINAL, order.total_fen - order.deposit_fen
    raise OutsidePaymentWindow(f"an order that is {state.value} expects no payment")


def apply_payment(
    session: Session, order: Order, phase: str, amount_fen: int, **detail: Any
) -> bool:
    """Record money received for ``phase``; True when the order has now become paid (and
    converts). IllegalTransition if the order can no longer take it (e.g. cancelled)."""
    if phase == Phase.DEPOSIT:
        transition(session, order, S.DEPOSIT_PAID, "deposit_paid", amount_fen=amount_fen, **detail)
        order.paid_fen += amount_fen
        return False
    transition(session, order, S.PAID, f"{phase}_paid", amount_fen=amount_fen, **detail)
    order.paid_fen += amount_fen
    order.paid_at = utcnow()
    for line in queries.lines_of(session, order.id):
        stock.sell(session, line.sku_id, line.quantity)
    return True


# -- cancelling ---------------------------------------------------------------------------
def cancel(session: Session, order: Order, cause: str, reason: str) -> OrderEvent:
    """Cancel an unpaid (or deposit-only) order and release its stock. A forfeited or
    refundable deposit follows the platform's terms (recorded on the event)."""
    detail: dict[str, Any] = {"reason": reason}
    if order.state == S.DEPOSIT_PAID.value:
        terms = interop.terms_of(session, order.platform_id)
        detail["deposit_fen"] = order.paid_fen
        detail["deposit_rule"] = terms.deposit_rule
    event = transition(session, order, S.CANCELLED, cause, **detail)
    for line in queries.lines_of(session, order.id):
        stock.release(session, line.sku_id, line.quantity)
    return event


def cancel_by_seller(session: Session, who: Principal, order: Order, reason: str) -> Order:
    who.require_admin()
    cancel(session, order, "cancelled_by_seller", reason)
    return order


def expire_unpaid(session: Session, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Cancel orders unpaid past their deadline and presales whose final payment never came.

    Run by the worker; each order is locked (``SKIP LOCKED`` on PostgreSQL) so several
    workers share the work and a payment landing at the same moment waits for the row.
    """
    now = now or utcnow()
    overdue = (
        select(Order)
        .where(
            ((Order.state == S.CREATED.value) & (Order.payment_due_at <= now))
            | ((Order.state == S.DEPOSIT_PAID.value) & (Order.final_due_until <= now))
        )
        .order_by(Order.payment_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        overdue = overdue.with_for_update(skip_locked=True, key_share=True)
    done = 0
    for order in session.scalars(overdue):
        unpaid_final = order.state == S.DEPOSIT_PAID.value
        cancel(
            session,
            order,
            "final_payment_missed" if unpaid_final else "payment_timeout",
            "the final payment was not made in its window"
            if unpaid_final
            else "not paid before the deadline",
        )
        done += 1
    return done


# -- fulfilment -----------------------------------------------------------------------------
def confirm_receipt(session: Session, order: Order, cause: str) -> None:
    """The buyer confirmed receipt: the order is completed (and its commissions confirmed)."""
    event = transition(session, order, S.COMPLETED, cause)
    order.completed_at = order.completed_at or event.at


def seller_of(session: Session, order: Order) -> Tenant:
    tenant = session.get(Tenant, order.seller_id)
    assert tenant is not None
    return tenant
