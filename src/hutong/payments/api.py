"""HTTP routes of payments: provider accounts, paying and refunding an order, notifications.

Routes that call a provider authenticate in a session of their own (``UnboundPrincipalDep``)
and let the service run its transactions around the provider call: no database transaction
is ever open while hutong waits on a provider.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep, UnboundPrincipalDep
from hutong.commerce import aftersales
from hutong.commerce.models import AfterSale
from hutong.commerce.queries import order_for
from hutong.commerce.schemas import AfterSaleIn, AfterSaleOut, DecisionIn
from hutong.errors import NotFound
from hutong.payments import accounts, reconcile, service
from hutong.payments.errors import PaymentNotFound
from hutong.payments.models import (
    Payment,
    PaymentNotice,
    ProviderAccount,
    Reconciliation,
    Refund,
)
from hutong.payments.schemas import (
    AccountIn,
    AccountOut,
    NoticeOut,
    PayIn,
    PaymentOut,
    ReconcileIn,
    ReconciliationOut,
    RefundIn,
    RefundOut,
)
from hutong.tenants.principal import Principal
from hutong.traffic.queries import buyer_tenant_ids

router = APIRouter(prefix="/v1", tags=["payments"])
public = APIRouter(tags=["notifications"])


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        order_id=p.order_id,
        provider=p.provider,
        phase=p.phase,
        out_trade_no=p.out_trade_no,
        amount_fen=p.amount_fen,
        currency=p.currency,
        state=p.state,
        pay_url=p.pay_url,
        provider_txn_id=p.provider_txn_id,
        refunded_fen=p.refunded_fen,
        applied=p.applied,
        error=p.error,
        created_at=p.created_at,
        expires_at=p.expires_at,
        succeeded_at=p.succeeded_at,
    )


def refund_out(r: Refund) -> RefundOut:
    return RefundOut(
        id=r.id,
        order_id=r.order_id,
        payment_id=r.payment_id,
        out_refund_no=r.out_refund_no,
        amount_fen=r.amount_fen,
        reason=r.reason,
        state=r.state,
        provider_refund_id=r.provider_refund_id,
        error=r.error,
        created_at=r.created_at,
        succeeded_at=r.succeeded_at,
    )


def account_out(runtime: RuntimeDep, a: ProviderAccount) -> AccountOut:
    provider = runtime.payments.provider(a.provider)
    return AccountOut(
        id=a.id,
        seller_id=a.seller_id,
        provider=a.provider,
        merchant_key=a.merchant_key,
        settings=a.settings,
        secret_settings=list(provider.settings_secret),
        gateway_url=a.gateway_url,
        active=a.active,
    )


# -- accounts -----------------------------------------------------------------------------------
@router.post("/provider-accounts", status_code=201, response_model=AccountOut)
def connect_account(
    body: AccountIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> AccountOut:
    """Connect the caller (a seller) to a payment provider. Secret settings are sealed and
    never shown again."""
    from hutong.commerce.catalog import seller_platform

    seller_platform(session, who)  # only sellers hold provider accounts
    provider = runtime.payments.provider(body.provider)
    row = accounts.register(
        session, who, provider, dict(body.settings), str(body.gateway_url), runtime.payments.sealer
    )
    return account_out(runtime, row)


@router.get("/provider-accounts", response_model=list[AccountOut])
def list_accounts(session: SessionDep, who: PrincipalDep, runtime: RuntimeDep) -> list[AccountOut]:
    query = select(ProviderAccount).order_by(ProviderAccount.created_at)
    if not who.is_operator:
        query = query.where(ProviderAccount.seller_id.in_(buyer_tenant_ids(who)))
    return [account_out(runtime, a) for a in session.scalars(query)]


# -- paying and refunding -----------------------------------------------------------------------
@router.post("/orders/{order_id}/payments", status_code=201, response_model=PaymentOut)
def pay_order(
    order_id: str, body: PayIn, who: UnboundPrincipalDep, runtime: RuntimeDep
) -> PaymentOut:
    """Start paying what the order expects now (in full, or a presale's deposit or final
    payment) with a provider the order's platform accepted when the order was placed. The
    answer carries the provider's ``pay_url``; the order becomes paid when the provider's
    notification (or the status sync) says so."""
    payment_id = service.start_payment(runtime.payments, who, order_id, body.provider)
    with runtime.store.reading() as session:
        return payment_out(_visible_payment(session, who, payment_id))


@router.get("/orders/{order_id}/payments", response_model=list[PaymentOut])
def list_payments(order_id: str, session: SessionDep, who: PrincipalDep) -> list[PaymentOut]:
    order = order_for(session, who, order_id)
    rows = session.scalars(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.created_at)
    )
    return [payment_out(p) for p in rows]


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: str, session: SessionDep, who: PrincipalDep) -> PaymentOut:
    return payment_out(_visible_payment(session, who, payment_id))


@router.get("/payments/{payment_id}/notices", response_model=list[NoticeOut])
def payment_notices(payment_id: str, session: SessionDep, who: PrincipalDep) -> list[NoticeOut]:
    """Every notification applied to this payment or its refunds, and what each did."""
    payment = _visible_payment(session, who, payment_id)
    rows = session.scalars(
        select(PaymentNotice)
        .where(PaymentNotice.payment_id == payment.id)
        .order_by(PaymentNotice.id)
    )
    return [
        NoticeOut(
            id=n.id,
            provider=n.provider,
            kind=n.kind,
            status=n.status,
            outcome=n.outcome,
            payment_id=n.payment_id,
            refund_id=n.refund_id,
            received_at=n.received_at,
        )
        for n in rows
    ]


def _visible_payment(session: SessionDep, who: Principal, payment_id: str) -> Payment:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound(f"payment {payment_id} not found")
    try:
        order_for(session, who, payment.order_id)
    except NotFound as exc:
        raise PaymentNotFound(f"payment {payment_id} not found") from exc
    return payment


@router.post("/orders/{order_id}/refunds", status_code=201, response_model=list[RefundOut])
def refund_order(
    order_id: str, body: RefundIn, who: UnboundPrincipalDep, runtime: RuntimeDep
) -> list[RefundOut]:
    """Refund part or all of a paid order through the provider(s) that took the money."""
    ids = service.refund_order(runtime.payments, who, order_id, body.amount_fen, body.reason)
    with runtime.store.reading() as session:
        return [refund_out(r) for r in session.scalars(select(Refund).where(Refund.id.in_(ids)))]


@router.get("/orders/{order_id}/refunds", response_model=list[RefundOut])
def list_refunds(order_id: str, session: SessionDep, who: PrincipalDep) -> list[RefundOut]:
    order = order_for(session, who, order_id)
    rows = session.scalars(
        select(Refund).where(Refund.order_id == order.id).order_by(Refund.created_at)
    )
    return [refund_out(r) for r in rows]


# -- after-sales (the order's state in commerce, the money here) -----------------------------------
def after_sale_out(a: AfterSale) -> AfterSaleOut:
    return AfterSaleOut(
        id=a.id,
        order_id=a.order_id,
        kind=a.kind,
        amount_fen=a.amount_fen,
        reason=a.reason,
        lines=a.lines,
        state=a.state,
        note=a.note,
        created_at=a.created_at,
        decided_at=a.decided_at,
    )


@router.post("/orders/{order_id}/after-sales", status_code=201, response_model=AfterSaleOut)
def request_after_sale(
    order_id: str, body: AfterSaleIn, session: SessionDep, who: PrincipalDep
) -> AfterSaleOut:
    """A buyer's request (reported by the platform): refund only, or return and refund. The
    order becomes refund_requested until the seller decides."""
    order = order_for(session, who, order_id, lock=True)
    lines = [line.model_dump() for line in body.lines]
    sale = aftersales.request(session, who, order, body.kind, body.amount_fen, body.reason, lines)
    return after_sale_out(sale)


@router.get("/orders/{order_id}/after-sales", response_model=list[AfterSaleOut])
def list_after_sales(order_id: str, session: SessionDep, who: PrincipalDep) -> list[AfterSaleOut]:
    order = order_for(session, who, order_id)
    rows = session.scalars(
        select(AfterSale).where(AfterSale.order_id == order.id).order_by(AfterSale.created_at)
    )
    return [after_sale_out(a) for a in rows]


@router.post("/after-sales/{after_sale_id}/reject", response_model=AfterSaleOut)
def reject_after_sale(
    after_sale_id: str, body: DecisionIn, session: SessionDep, who: PrincipalDep
) -> AfterSaleOut:
    """The seller refuses: the order goes back to where it was."""
    return after_sale_out(service.reject_after_sale(session, who, after_sale_id, body.note))


@router.post("/after-sales/{after_sale_id}/approve", response_model=AfterSaleOut)
def approve_after_sale(
    after_sale_id: str, body: DecisionIn, who: UnboundPrincipalDep, runtime: RuntimeDep
) -> AfterSaleOut:
    """Approve: a refund-only request is refunded now through the provider(s) that took the
    money; a return waits until the goods are received."""
    service.approve_after_sale(runtime.payments, who, after_sale_id, body.note)
    with runtime.store.reading() as session:
        return after_sale_out(service.visible_sale(session, who, after_sale_id))


@router.post("/after-sales/{after_sale_id}/received", response_model=AfterSaleOut)
def returned_goods_received(
    after_sale_id: str, who: UnboundPrincipalDep, runtime: RuntimeDep
) -> AfterSaleOut:
    """The returned goods arrived: restocked, the order returned, the money refunded."""
    with runtime.store.transaction() as session:
        sale = service.visible_sale(session, who, after_sale_id)
        order = order_for(session, who, sale.order_id, lock=True)
        amount = aftersales.goods_received(session, who, sale, order)
        order_id, reason = sale.order_id, f"return {sale.id}: {sale.reason}"[:200]
    service.refund_order(runtime.payments, who, order_id, amount, reason)
    with runtime.store.reading() as session:
        return after_sale_out(service.visible_sale(session, who, after_sale_id))


# -- reconciliation -----------------------------------------------------------------------------
def reconciliation_out(r: Reconciliation) -> ReconciliationOut:
    return ReconciliationOut(
        id=r.id,
        provider=r.provider,
        day=r.day,
        matched=r.matched,
        mismatches=r.mismatches,
        totals=r.totals,
        with_platform=r.with_platform,
        created_at=r.created_at,
    )


@router.post("/reconciliations", status_code=201, response_model=ReconciliationOut)
def run_reconciliation(
    body: ReconcileIn, who: UnboundPrincipalDep, runtime: RuntimeDep
) -> ReconciliationOut:
    """Reconcile one day of the caller's account with ``provider``: the provider's statement,
    hutong's records and, when given, the selling platform's settlement report."""
    platform = (
        {
            line.reference: reconcile.Side(
                line.kind,
                line.amount_fen,
                fee_fen=line.provider_fee_fen,
                commission_fen=line.commission_fen,
                net_fen=line.net_fen,
            )
            for line in body.platform_report
        }
        if body.platform_report is not None
        else None
    )
    record = reconcile.reconcile_day(runtime.payments, who, body.provider, body.day, platform)
    return reconciliation_out(record)


@router.get("/reconciliations", response_model=list[ReconciliationOut])
def list_reconciliations(session: SessionDep, who: PrincipalDep) -> list[ReconciliationOut]:
    query = select(Reconciliation).order_by(Reconciliation.created_at.desc())
    if not who.is_operator:
        query = query.where(Reconciliation.seller_id.in_(buyer_tenant_ids(who)))
    return [reconciliation_out(r) for r in session.scalars(query.limit(100))]


# -- notifications ------------------------------------------------------------------------------
@public.post("/notify/{provider}", response_class=Response)
async def notify(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    """A provider's asynchronous notification, answered exactly as that provider expects."""
    return await _notify(provider, "", request, runtime)


@public.post("/notify/{provider}/{merchant}", response_class=Response)
async def notify_merchant(
    provider: str, merchant: str, request: Request, runtime: RuntimeDep
) -> Response:
    """The same, for providers whose notify URL names the merchant (WeChat Pay: its body is
    encrypted under the merchant's key, so only the URL can say whose it is)."""
    return await _notify(provider, merchant, request, runtime)


async def _notify(provider: str, merchant: str, request: Request, runtime: RuntimeDep) -> Response:
    body = await request.body()
    reply = await run_in_threadpool(
        service.receive_notice, runtime.payments, provider, request.headers, body, merchant
    )
    return Response(
        reply.body,
        status_code=reply.status_code,
        media_type=reply.content_type,
        headers=reply.headers,
    )
