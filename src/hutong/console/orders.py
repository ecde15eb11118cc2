"""Orders, an order's whole walk, and the forms of after-sale: refunds, complaints, the
carrier rule."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.api.auth import RuntimeDep
from hutong.console import forms
from hutong.console.i18n import pick_lang
from hutong.console.web import principal, render, router, to_signin
from hutong.errors import HutongError
from hutong.runtime import Runtime
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    return render(request, "orders.html", who, errors={}, form={}, **_orders_context(runtime, who))


def _orders_context(runtime: Runtime, who: Principal) -> dict[str, Any]:
    from hutong.commerce import queries as commerce
    from hutong.commerce.models import Order
    from hutong.logistics.models import CarrierRule

    with runtime.store.reading() as session:
        orders = list(
            session.scalars(commerce.orders(who).order_by(Order.created_at.desc()).limit(200))
        )
        rule = session.get(CarrierRule, who.tenant_id)
    seller = who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)
    return {
        "orders": orders,
        "rule": rule,
        "seller": seller,
        "carriers": sorted(runtime.logistics.carriers),
    }


def _order_context(session: Session, who: Principal, order_id: str) -> dict[str, Any]:
    from hutong.commerce import queries as commerce
    from hutong.commerce.models import AfterSale
    from hutong.logistics.models import Shipment, TrackingEvent
    from hutong.payments.models import Payment, PaymentNotice, Refund
    from hutong.traffic.models import Conversion

    order = commerce.order_for(session, who, order_id)
    payments = list(session.scalars(select(Payment).where(Payment.order_id == order.id)))
    shipments = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id)))
    return {
        "order": order,
        "events": commerce.events_of(session, order.id),
        "lines": commerce.lines_of(session, order.id),
        "payments": payments,
        "notices": list(
            session.scalars(
                select(PaymentNotice)
                .where(PaymentNotice.payment_id.in_([p.id for p in payments]))
                .order_by(PaymentNotice.received_at)
            )
        ),
        "refunds": list(session.scalars(select(Refund).where(Refund.order_id == order.id))),
        "shipments": shipments,
        "tracking": list(
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id.in_([s.id for s in shipments]))
                .order_by(TrackingEvent.occurred_at)
            )
        ),
        "conversion": session.scalar(select(Conversion).where(Conversion.order_ref == order.id)),
        "after_sales": list(
            session.scalars(
                select(AfterSale)
                .where(AfterSale.order_id == order.id)
                .order_by(AfterSale.created_at)
            )
        ),
        "may_refund": who.is_operator or order.seller_id == who.tenant_id,
    }


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """An order's whole walk on one page: the jump, the order's states, the payments and the
    providers' notifications, the parcels and their tracking, the refunds."""
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        try:
            context = _order_context(session, who, order_id)
        except HutongError:
            return render(request, "missing.html", who, status=404)
    return render(request, "order.html", who, errors={}, form={}, **context)


REFUND_ERRORS = {  # a service's error code: (zh, en), beside the amount
    "refund_exceeds_paid": ("超过了还能退的金额", "More than what is left to refund"),
    "conflict": ("这笔订单现在不能退款", "This order cannot be refunded now"),
}


@router.post("/orders/{order_id}/refund", response_class=HTMLResponse)
async def refund_form(order_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """Refund part of an order: the amount in yuan, through the providers that took it."""
    from hutong.payments.service import refund_order

    lang = pick_lang(request)
    form = await forms.read_form(request)
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
    if who is None:
        return to_signin()
    errors: dict[str, str] = {}
    try:
        fen = forms.fen_of(form, "amount")
        await asyncio.to_thread(
            refund_order, runtime.payments, who, order_id, fen, forms.first(form, "reason")[:200]
        )
    except forms.FieldError as exc:
        errors[exc.field] = forms.message(exc.kind, lang)
    except HutongError as exc:
        pair = REFUND_ERRORS.get(exc.code)
        errors["amount"] = (pair[0] if lang == "zh" else pair[1]) if pair else str(exc)
    if not errors:
        return RedirectResponse(f"/console/orders/{order_id}", status_code=303)
    with runtime.store.reading() as session:
        try:
            context = _order_context(session, who, order_id)
        except HutongError:
            return render(request, "missing.html", who, status=404)
    flat = {k: v[0] for k, v in form.items()}
    return render(request, "order.html", who, errors=errors, form=flat, **context)


@router.post("/after-sales/{after_sale_id}/{decision}", response_class=HTMLResponse)
async def after_sale_form(
    after_sale_id: str, decision: str, request: Request, runtime: RuntimeDep
) -> Response:
    """Resolve a complaint: approve (refund now, or on the goods' return) or reject it."""
    from hutong.payments import service as payments

    if decision not in ("approve", "reject"):
        return Response(status_code=404)
    form = await forms.read_form(request)
    note = forms.first(form, "note")[:200]
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        try:
            order_id = payments.visible_sale(session, who, after_sale_id).order_id
        except HutongError:
            return render(request, "missing.html", who, status=404)
    error = ""
    try:
        if decision == "approve":
            await asyncio.to_thread(
                payments.approve_after_sale, runtime.payments, who, after_sale_id, note
            )
        else:
            with runtime.store.transaction() as session:
                payments.reject_after_sale(session, who, after_sale_id, note)
    except HutongError as exc:
        error = str(exc)
    if not error:
        return RedirectResponse(f"/console/orders/{order_id}", status_code=303)
    with runtime.store.reading() as session:
        context = _order_context(session, who, order_id)
    errors = {f"sale-{after_sale_id}": error}
    return render(request, "order.html", who, errors=errors, form={}, **context)


@router.post("/carrier-rule", response_class=HTMLResponse)
async def carrier_rule_form(request: Request, runtime: RuntimeDep) -> Response:
    """A seller chooses how its orders pick a carrier."""
    from hutong.commerce.catalog import seller_platform
    from hutong.logistics.models import CarrierRule
    from hutong.logistics.schemas import RuleIn

    lang = pick_lang(request)
    form = await forms.read_form(request)
    errors: dict[str, str] = {}
    with runtime.store.transaction() as session:  # one session: SQLite's pool holds one
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        try:
            seller_platform(session, who)
            body = RuleIn(
                mode=forms.first(form, "mode"),
                carriers=[c for c in form.get("carriers", []) if c],
                ship_from=forms.first(form, "ship_from") or "浙江省",
            )
            for name in body.carriers:
                runtime.logistics.carrier(name)
        except ValidationError as exc:
            errors = forms.errors_of(exc, lang)
        except HutongError as exc:
            errors = {"carriers": str(exc)}
        else:
            rule = session.get(CarrierRule, who.tenant_id) or CarrierRule(seller_id=who.tenant_id)
            rule.mode, rule.carriers = body.mode, list(body.carriers)
            rule.ship_from = body.ship_from
            session.add(rule)
    if errors:
        return _orders_with(request, runtime, who, errors, form)
    return RedirectResponse("/console/orders", status_code=303)


def _orders_with(
    request: Request,
    runtime: Runtime,
    who: Principal,
    errors: dict[str, str],
    form: dict[str, list[str]],
) -> HTMLResponse:
    context = _orders_context(runtime, who)
    return render(request, "orders.html", who, errors=errors, form=form, **context)
