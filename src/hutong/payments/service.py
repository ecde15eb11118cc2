"""Taking money and giving it back: payment attempts, notifications, refunds, status sync.

Provider calls never happen inside a database transaction (a lock held across the network is
a stall for every other writer): a row is committed first (``created`` / ``requested``), the
provider is called, and the answer is written in a second transaction. A crash in between
leaves a row whose ``sync_due_at`` makes the sync job ask the provider by our merchant
reference, so nothing is lost (docs/payments.md).

Notifications are applied exactly once: every accepted one inserts a row under the unique
(provider, dedupe key) in the same transaction as its effect; a duplicate hits the key, changes
nothing and is acknowledged. States only move forward (``PAYMENT_RANK``/``REFUND_RANK``).

Row locks are ``FOR NO KEY UPDATE`` (a refund or an order event may still be inserted beside a
locked payment or order: a plain ``FOR UPDATE`` blocks the foreign-key check, and a refund
request holding its order then deadlocked against a notification holding the payment), and a
refund is always locked after its payment (``_lock_refund``), as notifications do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.commerce import aftersales, interop
from hutong.commerce import orders as order_actions
from hutong.commerce.models import AfterSale, Order
from hutong.commerce.queries import order_for
from hutong.commerce.states import PAID_STATES, IllegalTransition, OrderState
from hutong.errors import Conflict, NotFound
from hutong.ids import CROCKFORD32, random_string
from hutong.payments import accounts
from hutong.payments.errors import PaymentNotFound, RefundTooLarge, UnknownProvider
from hutong.payments.models import Payment, PaymentNotice, ProviderAccount, Refund, SeenNonce
from hutong.payments.protocol import (
    PAYMENT_RANK,
    REFUND_RANK,
    Account,
    Notice,
    NoticeRefused,
    PaymentProvider,
    PaymentStatus,
    PayRequest,
    RefundCall,
    RefundResult,
    RefundStatus,
    Reply,
)
from hutong.sealing import Sealer
from hutong.store import Store, utcnow
from hutong.tenants.principal import Principal
from hutong.traffic.models import Link
from hutong.traffic.postbacks import credit_order

log = logging.getLogger("hutong.payments")

SYNC_FIRST = dt.timedelta(minutes=2)  # a notification later than this is overdue: ask
SYNC_MAX_ATTEMPTS = 30


@dataclass
class Payments:
    """What the payment service needs beyond a session (built once by the runtime)."""

    store: Store
    sealer: Sealer
    providers: Mapping[str, PaymentProvider]
    client: httpx.Client
    public_url: str
    tolerance_seconds: int = 300

    def provider(self, name: str) -> PaymentProvider:
        found = self.providers.get(name)
        if found is None:
            raise UnknownProvider(f"unknown payment provider {name!r}")
        return found

    def notify_url(self, provider: str) -> str:
        return f"{self.public_url}/notify/{provider}"

    def account(self, row: ProviderAccount) -> Account:
        return accounts.as_adapter_account(row, self.sealer, self.notify_url(row.provider))


def merchant_ref() -> str:
    """An out_trade_no / out_refund_no every provider accepts: 26 letters and digits."""
    return "HT" + random_string(24, CROCKFORD32).upper()


# -- paying -----------------------------------------------------------------------------
def start_payment(ctx: Payments, who: Principal, order_id: str, provider_name: str) -> str:
    """Start paying the phase the order expects now with ``provider_name``; the payment's id.

    NotAccepted if the order's platform did not take that provider when the order was placed;
    OutsidePaymentWindow if nothing is due; an open attempt for the same phase is reused.
    """
    who.require_admin()
    provider = ctx.provider(provider_name)
    now = utcnow()
    with ctx.store.transaction() as session:
        order = order_for(session, who, order_id, lock=True)
        phase, amount = order_actions.phase_due(order, now)
        interop.require(session, order.platform_id, "payment", provider.name, order.created_at)
        open_attempt = session.scalar(
            select(Payment).where(
                Payment.order_id == order.id,
                Payment.phase == phase,
                Payment.provider == provider.name,
                Payment.state.in_([PaymentStatus.CREATED.value, PaymentStatus.PENDING.value]),
                Payment.expires_at > now,
            )
        )
        if open_attempt is not None and open_attempt.pay_url:
            return open_attempt.id
        row = accounts.for_seller(session, order.seller_id, provider.name)
        payment = open_attempt or Payment(
            id=_id("pay"),
            order_id=order.id,
            seller_id=order.seller_id,
            account_id=row.id,
            provider=provider.name,
            phase=phase,
            out_trade_no=merchant_ref(),
            amount_fen=amount,
            currency=order.currency,
            state=PaymentStatus.CREATED.value,
            expires_at=_expiry(order, phase, now),
            sync_due_at=now + SYNC_FIRST,
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        account = ctx.account(row)
        request = PayRequest(
            out_trade_no=payment.out_trade_no,
            amount_fen=payment.amount_fen,
            currency=payment.currency,
            subject=f"order {order.id} ({phase})",
            expires_at=payment.expires_at,
            placed_at=payment.created_at,
        )
        payment_id = payment.id
    # committed: now (and only now) talk to the provider
    started = provider.start(account, request, ctx.client)
    with ctx.store.transaction() as session:
        payment = _payment(session, payment_id, lock=True)
        if started.ok:
            payment.pay_url = started.pay_url
            payment.provider_txn_id = started.provider_txn_id or payment.provider_txn_id
            _advance(payment, PaymentStatus.PENDING)
        else:
            payment.error = started.error[:500]
            log.warning(
                "provider %s refused payment %s: %s", provider.name, payment.id, started.error
            )
    return payment_id


def _expiry(order: Order, phase: str, now: dt.datetime) -> dt.datetime:
    if phase == order_actions.Phase.FINAL and order.final_due_until is not None:
        return order.final_due_until
    return order.payment_due_at


def _id(prefix: str) -> str:
    from hutong.ids import new_id

    return new_id(prefix)


def _payment(session: Session, payment_id: str, *, lock: bool = False) -> Payment:
    query = select(Payment).where(Payment.id == payment_id)
    if lock:
        query = query.with_for_update(key_share=True)
    payment = session.scalar(query)
    if payment is None:
        raise PaymentNotFound(f"payment {payment_id} not found")
    return payment


def _advance(payment: Payment | Refund, status: PaymentStatus | RefundStatus) -> bool:
    """Move forward only; True if the state changed."""
    if isinstance(payment, Payment):
        current_rank = PAYMENT_RANK[PaymentStatus(payment.state)]
        new_rank = PAYMENT_RANK[PaymentStatus(status)]
    else:
        current_rank = REFUND_RANK[RefundStatus(payment.state)]
        new_rank = REFUND_RANK[RefundStatus(status)]
    if new_rank <= current_rank:
        return False
    payment.state = status.value
    payment.updated_at = utcnow()
    return True


def apply_payment_status(
    session: Session, payment: Payment, status: PaymentStatus, txn_id: str, source: str
) -> str:
    """Apply a provider's word about a payment; what it did (``applied``/``unchanged``)."""
    if txn_id and not payment.provider_txn_id:
        payment.provider_txn_id = txn_id
    if not _advance(payment, status):
        return "unchanged"
    payment.sync_due_at = None
    if status is not PaymentStatus.SUCCEEDED:
        return "applied"
    payment.succeeded_at = utcnow()
    order = session.scalar(
        select(Order).where(Order.id == payment.order_id).with_for_update(key_share=True)
    )
    assert order is not None
    try:
        converted = order_actions.apply_payment(
            session,
            order,
            payment.phase,
            payment.amount_fen,
            payment_id=payment.id,
            provider=payment.provider,
            source=source,
        )
    except IllegalTransition as exc:
        # Money arrived for an order that can no longer take it (cancelled by the timeout,
        # or paid twice): give it back rather than keep it.
        _queue_refund(session, payment, payment.amount_fen, f"not payable: {exc.detail}"[:200])
        return "refunding"
    payment.applied = True
    if converted and order.click_id and order.link_id:
        _convert(session, order)
    return "applied"


def _convert(session: Session, order: Order) -> None:
    """The paid order's conversion, credited to its click (the postback goes out after commit)."""
    link = session.get(Link, order.link_id)
    assert link is not None and order.click_id is not None and order.paid_at is not None
    credit_order(
        session,
        reporter_id=order.seller_id,
        order_ref=order.id,
        click_id=order.click_id,
        bot=order.click_bot,
        link=link,
        amount_fen=order.total_fen,
        currency=order.currency,
        occurred_at=order.paid_at,
        buyer_hash=order.buyer_hash,
    )


# -- notifications -------------------------------------------------------------------------
def receive_notice(
    ctx: Payments, provider_name: str, headers: Mapping[str, str], body: bytes, hint: str = ""
) -> Reply:
    """Verify, check and apply one notification; the reply the provider expects."""
    provider = ctx.provider(provider_name)
    digest = hashlib.sha256(body).hexdigest()
    try:
        notice = provider.read_notice(
            headers, body, lambda key: _lookup(ctx, provider.name, key), hint
        )
        _check_fresh(ctx, notice)
        with ctx.store.transaction() as session:
            outcome = _apply_notice(session, provider.name, notice, digest)
    except NoticeRefused as refused:
        _record_refusal(ctx, provider.name, refused, digest)
        return provider.reply(False)
    log.info("%s notice %s: %s", provider.name, notice.dedupe_key, outcome)
    return provider.reply(True)


def _lookup(ctx: Payments, provider: str, merchant_key: str) -> Account | None:
    with ctx.store.reading() as session:
        row = session.scalar(
            select(ProviderAccount).where(
                ProviderAccount.provider == provider, ProviderAccount.merchant_key == merchant_key
            )
        )
        return ctx.account(row) if row is not None and row.active else None


def _check_fresh(ctx: Payments, notice: Notice) -> None:
    if notice.signed_at is None:
        return
    skew = abs((utcnow() - notice.signed_at).total_seconds())
    if skew > ctx.tolerance_seconds:
        raise NoticeRefused("stale", f"signed {skew:.0f} s away from now")


def _apply_notice(session: Session, provider: str, notice: Notice, digest: str) -> str:
    payment = session.scalar(
        select(Payment)
        .where(Payment.out_trade_no == notice.out_trade_no)
        .with_for_update(key_share=True)
    )
    if payment is None or payment.provider != provider:
        raise NoticeRefused("unknown_payment", f"no payment {notice.out_trade_no}")
    account = session.get(ProviderAccount, payment.account_id)
    if account is None or account.merchant_key != notice.merchant_key:
        raise NoticeRefused("wrong_account", "the payment belongs to another account")
    refund = None
    if notice.kind == "refund":
        refund = session.scalar(
            select(Refund)
            .where(Refund.out_refund_no == notice.out_refund_no)
            .with_for_update(key_share=True)
        )
        if refund is None or refund.payment_id != payment.id:
            raise NoticeRefused("unknown_refund", f"no refund {notice.out_refund_no}")
        expected = refund.amount_fen
    else:
        expected = payment.amount_fen
    if notice.kind == "info":
        expected = notice.amount_fen  # informational: acknowledged, never applied
    if notice.amount_fen != expected or notice.currency != payment.currency:
        raise NoticeRefused(
            "amount_mismatch",
            f"{notice.amount_fen} {notice.currency} for {expected} {payment.currency}",
        )
    if notice.nonce:
        try:
            with session.begin_nested():
                session.add(SeenNonce(provider=provider, nonce=notice.nonce, seen_at=utcnow()))
        except IntegrityError as exc:
            raise NoticeRefused("replayed", f"nonce {notice.nonce} was seen before") from exc
    record = PaymentNotice(
        provider=provider,
        dedupe_key=notice.dedupe_key,
        kind=notice.kind,
        payment_id=payment.id,
        refund_id=refund.id if refund else None,
        status=notice.status,
        outcome="pending",
        body_sha256=digest,
        detail={"raw_status": notice.raw_status},
        received_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return "duplicate"  # applied when it first came: acknowledge, change nothing
    if notice.kind == "info":
        record.outcome = "acknowledged"
    elif refund is not None:
        record.outcome = apply_refund_status(
            session, refund, RefundStatus(notice.status), notice.provider_txn_id
        )
    else:
        record.outcome = apply_payment_status(
            session, payment, PaymentStatus(notice.status), notice.provider_txn_id, "notification"
        )
    return record.outcome


def _record_refusal(ctx: Payments, provider: str, refused: NoticeRefused, digest: str) -> None:
    log.warning("%s notice refused (%s): %s", provider, refused.reason, refused.detail)
    with ctx.store.transaction() as session:
        session.add(
            PaymentNotice(
                provider=provider,
                dedupe_key=f"refused:{_id('ntc')}",
                outcome=f"refused:{refused.reason}",
                detail={"detail": refused.detail[:300]},
                body_sha256=digest,
                received_at=utcnow(),
            )
        )


# -- refunds ---------------------------------------------------------------------------------
def refund_order(
    ctx: Payments, who: Principal, order_id: str, amount_fen: int, reason: str
) -> list[str]:
    """Refund ``amount_fen`` of a paid order through the providers that took it (latest
    payment first); the refunds' ids. RefundTooLarge beyond what is left to refund."""
    who.require_admin()
    with ctx.store.transaction() as session:
        order = order_for(session, who, order_id, lock=True)
        if OrderState(order.state) not in PAID_STATES or order.state == OrderState.REFUNDED:
            raise Conflict(f"an order that is {order.state} has nothing to refund")
        refund_ids = _allocate(session, order, amount_fen, reason)
    for refund_id in refund_ids:
        send_refund(ctx, refund_id)
    return refund_ids


def visible_sale(session: Session, who: Principal, after_sale_id: str) -> AfterSale:
    """An after-sale request of an order the caller sees (NotFound otherwise)."""
    sale = session.get(AfterSale, after_sale_id)
    if sale is None:
        raise NotFound(f"after-sale request {after_sale_id} not found")
    try:
        order_for(session, who, sale.order_id)
    except NotFound as exc:
        raise NotFound(f"after-sale request {after_sale_id} not found") from exc
    return sale


def reject_after_sale(session: Session, who: Principal, after_sale_id: str, note: str) -> AfterSale:
    """The seller refuses: the order goes back to where it was."""
    sale = visible_sale(session, who, after_sale_id)
    order = order_for(session, who, sale.order_id, lock=True)
    return aftersales.reject(session, who, sale, order, note)


def approve_after_sale(ctx: Payments, who: Principal, after_sale_id: str, note: str) -> None:
    """Approve: a refund-only request is refunded now through the provider(s) that took the
    money; a return waits until the goods are received."""
    with ctx.store.transaction() as session:
        sale = visible_sale(session, who, after_sale_id)
        amount = aftersales.approve(session, who, sale)
        sale.note = note or sale.note
        order_id, reason = sale.order_id, f"after-sale {sale.id}: {sale.reason}"[:200]
    if amount:
        refund_order(ctx, who, order_id, amount, reason)


def _allocate(session: Session, order: Order, amount_fen: int, reason: str) -> list[str]:
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.order_id == order.id, Payment.applied.is_(True))
            .order_by(Payment.succeeded_at.desc())
        )
    )
    open_refunds = {
        r.payment_id: r.amount_fen
        for r in session.scalars(
            select(Refund).where(
                Refund.order_id == order.id,
                Refund.state.in_([RefundStatus.REQUESTED.value, RefundStatus.PROCESSING.value]),
            )
        )
    }
    left = {p.id: p.amount_fen - p.refunded_fen - open_refunds.get(p.id, 0) for p in payments}
    if amount_fen > sum(left.values()):
        raise RefundTooLarge(f"at most {sum(left.values())} fen can still be refunded")
    ids = []
    remaining = amount_fen
    for payment in payments:
        take = min(remaining, left[payment.id])
        if take <= 0:
            continue
        ids.append(_queue_refund(session, payment, take, reason))
        remaining -= take
        if remaining == 0:
            break
    return ids


def _queue_refund(session: Session, payment: Payment, amount_fen: int, reason: str) -> str:
    now = utcnow()
    refund = Refund(
        id=_id("rfd"),
        order_id=payment.order_id,
        payment_id=payment.id,
        out_refund_no=merchant_ref(),
        amount_fen=amount_fen,
        reason=reason,
        state=RefundStatus.REQUESTED.value,
        created_at=now,
        updated_at=now,
        sync_due_at=now,  # the sync job sends it if nobody does first
    )
    session.add(refund)
    session.flush()
    return refund.id


def send_refund(ctx: Payments, refund_id: str) -> None:
    """Ask the provider for a committed refund (again: the provider dedups out_refund_no)."""
    with ctx.store.reading() as session:
        refund = session.get(Refund, refund_id)
        payment = session.get(Payment, refund.payment_id) if refund else None
        if refund is None or payment is None:
            raise PaymentNotFound(f"refund {refund_id} not found")
        row = session.get(ProviderAccount, payment.account_id)
        assert row is not None
        account = ctx.account(row)
        call = _refund_call(payment, refund)
    result = ctx.provider(payment.provider).refund(account, call, ctx.client)
    _record_refund_result(ctx, refund_id, result)


def _refund_call(payment: Payment, refund: Refund) -> RefundCall:
    return RefundCall(
        out_trade_no=payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount_fen=refund.amount_fen,
        total_fen=payment.amount_fen,
        reason=refund.reason,
        payment_placed_at=payment.created_at,
        refund_placed_at=refund.created_at,
    )


def _lock_refund(session: Session, refund_id: str) -> Refund:
    """Lock a refund the way every path does: its payment first, then the refund (a
    notification locks the payment, then the refund; the other order would deadlock)."""
    payment_id = session.scalar(select(Refund.payment_id).where(Refund.id == refund_id))
    if payment_id is None:
        raise PaymentNotFound(f"refund {refund_id} not found")
    session.scalar(
        select(Payment.id).where(Payment.id == payment_id).with_for_update(key_share=True)
    )
    refund = session.scalar(
        select(Refund).where(Refund.id == refund_id).with_for_update(key_share=True)
    )
    assert refund is not None
    return refund


def _record_refund_result(ctx: Payments, refund_id: str, result: RefundResult) -> None:
    with ctx.store.transaction() as session:
        refund = _lock_refund(session, refund_id)
        if not result.ok:
            refund.error = result.error[:500]
            refund.sync_attempts += 1
            refund.sync_due_at = utcnow() + _backoff(refund.sync_attempts)
            return
        apply_refund_status(session, refund, result.status, result.provider_refund_id)


def apply_refund_status(
    session: Session, refund: Refund, status: RefundStatus, provider_refund_id: str
) -> str:
    if provider_refund_id and not refund.provider_refund_id:
        refund.provider_refund_id = provider_refund_id
    if not _advance(refund, status):
        return "unchanged"
    now = utcnow()
    if status is RefundStatus.PROCESSING:
        refund.sync_due_at = now + SYNC_FIRST
        return "applied"
    refund.sync_due_at = None
    if status is not RefundStatus.SUCCEEDED:
        return "applied"
    refund.succeeded_at = now
    payment = session.scalar(
        select(Payment).where(Payment.id == refund.payment_id).with_for_update(key_share=True)
    )
    assert payment is not None
    payment.refunded_fen += refund.amount_fen
    if payment.applied:
        _refund_order_money(session, refund)
    return "applied"


def _refund_order_money(session: Session, refund: Refund) -> None:
    order = session.scalar(
        select(Order).where(Order.id == refund.order_id).with_for_update(key_share=True)
    )
    assert order is not None
    order.refunded_fen += refund.amount_fen
    if order.state == OrderState.CANCELLED:
        return  # a presale deposit given back after the order closed: money only
    target = (
        OrderState.REFUNDED
        if order.refunded_fen >= order.paid_fen
        else OrderState.PARTIALLY_REFUNDED
    )
    order_actions.transition(
        session,
        order,
        target,
        "refund_succeeded",
        refund_id=refund.id,
        amount_fen=refund.amount_fen,
    )


# -- status sync (the janitor) -------------------------------------------------------------------
def _backoff(attempts: int) -> dt.timedelta:
    seconds = SYNC_FIRST.total_seconds() * 2 ** min(max(attempts - 1, 0), 12)
    return dt.timedelta(seconds=min(seconds, 6 * 3600))


def sync_due(ctx: Payments, limit: int = 50) -> int:
    """Ask providers about payments and refunds whose notification is overdue; how many."""
    now = utcnow()
    with ctx.store.reading() as session:
        payment_ids = list(
            session.scalars(
                select(Payment.id)
                .where(
                    Payment.state.in_([PaymentStatus.CREATED.value, PaymentStatus.PENDING.value]),
                    Payment.sync_due_at <= now,
                )
                .limit(limit)
            )
        )
        refund_ids = list(
            session.scalars(
                select(Refund.id)
                .where(
                    Refund.state.in_([RefundStatus.REQUESTED.value, RefundStatus.PROCESSING.value]),
                    Refund.sync_due_at <= now,
                )
                .limit(limit)
            )
        )
    for payment_id in payment_ids:
        sync_payment(ctx, payment_id)
    for refund_id in refund_ids:
        sync_refund(ctx, refund_id)
    return len(payment_ids) + len(refund_ids)


def sync_payment(ctx: Payments, payment_id: str) -> str:
    with ctx.store.transaction() as session:
        payment = _payment(session, payment_id, lock=True)
        payment.sync_attempts += 1
        payment.sync_due_at = utcnow() + _backoff(payment.sync_attempts)
        row = session.get(ProviderAccount, payment.account_id)
        assert row is not None
        account, out_trade_no, provider = ctx.account(row), payment.out_trade_no, payment.provider
        placed_at = payment.created_at
    result = ctx.provider(provider).query(account, out_trade_no, ctx.client, placed_at)
    with ctx.store.transaction() as session:
        payment = _payment(session, payment_id, lock=True)
        if not result.ok:
            payment.error = result.error[:500]
            return "error"
        if not result.found:
            # Not found right after creation means "not yet"; past expiry it never will be.
            if utcnow() > payment.expires_at:
                return apply_payment_status(session, payment, PaymentStatus.CLOSED, "", "sync")
            return "pending"
        if result.amount_fen and result.amount_fen != payment.amount_fen:
            log.error("sync: %s amount %s != %s", payment.id, result.amount_fen, payment.amount_fen)
            return "amount_mismatch"
        if payment.sync_attempts >= SYNC_MAX_ATTEMPTS:
            payment.sync_due_at = None
        return apply_payment_status(session, payment, result.status, result.provider_txn_id, "sync")


def sync_refund(ctx: Payments, refund_id: str) -> str:
    with ctx.store.reading() as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        state = refund.state
    if state == RefundStatus.REQUESTED:
        send_refund(ctx, refund_id)  # never reached the provider (or we never heard back)
        return "sent"
    with ctx.store.transaction() as session:
        refund = _lock_refund(session, refund_id)
        payment = session.get(Payment, refund.payment_id)
        assert payment is not None
        refund.sync_attempts += 1
        refund.sync_due_at = utcnow() + _backoff(refund.sync_attempts)
        row = session.get(ProviderAccount, payment.account_id)
        assert row is not None
        account = ctx.account(row)
        call = _refund_call(payment, refund)
        provider = payment.provider
    result = ctx.provider(provider).query_refund(account, call, ctx.client)
    if not result.ok:
        return "error"
    with ctx.store.transaction() as session:
        refund = _lock_refund(session, refund_id)
        return apply_refund_status(session, refund, result.status, result.provider_refund_id)
