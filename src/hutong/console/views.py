"""The console: server-rendered pages (Jinja2, htmx) over the same services as the API, each
showing only the signed-in tenant's world (an operator sees all).

Signing in takes a tenant's API key; the key is kept in an HttpOnly, SameSite=Strict cookie,
sealed (AES-GCM under the deployment's key), and checked again on every page, so a revoked key
signs the browser out. Charts are drawn by Plotly served from the installed package and htmx
from this package's static files: nothing comes from a CDN.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import plotly  # type: ignore[import-untyped]
from fastapi import APIRouter, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.api.auth import RuntimeDep
from hutong.console import forms, market
from hutong.console.i18n import COOKIE as LANG_COOKIE
from hutong.console.i18n import pick_lang, translator
from hutong.errors import HutongError
from hutong.live import service as live_service
from hutong.live.models import IN_FORCE, LiveSession, Penalty, PenaltyState, Streamer
from hutong.live.report import session_report
from hutong.live.stream import SSE_HEADERS, counter_events
from hutong.live.trust import service as trust
from hutong.live.trust.models import TrustScore
from hutong.runtime import Runtime
from hutong.sealing import Sealer
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.tenants.service import authenticate

router = APIRouter(prefix="/console", include_in_schema=False)
HERE = Path(__file__).parent
STATIC = HERE / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
KEY_COOKIE = "hutong_console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
_env.filters["yuan"] = lambda fen: f"¥{(fen or 0) / 100:,.2f}"
_env.filters["pct"] = lambda x: "—" if x is None else f"{x * 100:.1f}%"
_env.filters["num"] = lambda x: f"{x or 0:,}"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _local(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Asia/Shanghai (DESIGN.md)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI).strftime(fmt)


_env.filters["local"] = _local


# -- signing in ----------------------------------------------------------------------------
def _principal(request: Request, runtime: Runtime, session: Session) -> Principal | None:
    sealed = request.cookies.get(KEY_COOKIE)
    if not sealed:
        return None
    try:
        key = Sealer(runtime.settings.pii_key).unseal(sealed)["key"]
        return authenticate(session, key)
    except (HutongError, ValueError, KeyError):
        return None


def _page(request: Request, template: str, who: Principal | None, **context: Any) -> HTMLResponse:
    lang = pick_lang(request)
    body = _env.get_template(template).render(
        t=translator(lang),
        lang=lang,
        other_lang="en" if lang == "zh" else "zh",
        who=who,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(body, headers=PAGE_HEADERS, status_code=context.get("status", 200))
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _signin_redirect() -> RedirectResponse:
    return RedirectResponse("/console/signin", status_code=303)


@router.get("", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/console/overview", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request) -> HTMLResponse:
    return _page(request, "signin.html", None, error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, runtime: RuntimeDep) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    error = "key_required" if not key else None
    if error is None:
        with runtime.store.reading() as session:
            try:
                authenticate(session, key)
            except HutongError:
                error = "key_unknown"
    if error is not None:
        # the form again with the error beside the field (a page, not an API answer: 200)
        return _page(request, "signin.html", None, error=error)
    response = RedirectResponse("/console/overview", status_code=303)
    sealed = Sealer(runtime.settings.pii_key).seal({"key": key})
    response.set_cookie(KEY_COOKIE, sealed, httponly=True, samesite="strict", max_age=86400)
    return response


@router.post("/signout")
def signout() -> RedirectResponse:
    response = _signin_redirect()
    response.delete_cookie(KEY_COOKIE)
    return response


# -- pages ---------------------------------------------------------------------------------
@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
    rows = _overview_rows(runtime, who)
    totals = {
        key: sum(r[key] for r in rows)
        for key in ("clicks", "orders", "paid_orders", "gmv_fen", "refunded_fen")
    }
    totals["conversion"] = totals["paid_orders"] / totals["clicks"] if totals["clicks"] else None
    chart = _series_chart(rows, "gmv_fen", 0.01)
    return _page(request, "overview.html", who, rows=rows, totals=totals, chart=chart)


def _overview_rows(runtime: Runtime, who: Principal) -> list[dict[str, Any]]:
    from hutong.attribution.runs import campaign_terms, engine_for
    from hutong.insights.overview import overview, with_rates

    if not who.is_operator and who.kind is not TenantKind.SHELF_PLATFORM:
        return []
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    campaigns = campaign_terms(runtime.store)
    with engine_for("duckdb") as engine:
        table = overview(
            engine,
            runtime.settings.lake_dir,
            campaigns,
            today - dt.timedelta(days=30),
            today + dt.timedelta(days=1),
        )
    rows = with_rates(table)
    if not who.is_operator:
        rows = [r for r in rows if r["platform_id"] == who.platform_id]
    return rows


def _series_chart(rows: list[dict[str, Any]], field: str, scale: float) -> str:
    """Plotly traces (one per platform, by day) as JSON for console.js."""
    traces: dict[str, dict[str, list[Any]]] = {}
    for r in rows:
        trace = traces.setdefault(r["platform_id"], {"x": [], "y": []})
        trace["x"].append(str(r["day"]))
        trace["y"].append(r[field] * scale)
    return json.dumps([{"type": "bar", "name": name, **trace} for name, trace in traces.items()])


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        query = live_service.visible_sessions(who).order_by(LiveSession.starts_at.desc()).limit(50)
        sessions = list(session.scalars(query))
        handles = _handles(session, {s.streamer_id for s in sessions})
        ranking = trust.ranking(session, who, None, "weighted", 50)
    return _page(request, "live.html", who, sessions=sessions, handles=handles, ranking=ranking)


def _handles(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Streamer.id, Streamer.handle).where(Streamer.id.in_(ids)))
    return {streamer_id: handle for streamer_id, handle in rows}


@router.get("/live/{session_id}", response_class=HTMLResponse)
def session_page(session_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        try:
            live = live_service.session_for(session, who, session_id)
        except HutongError:
            return _page(request, "missing.html", who, status=404)
        counters = runtime.live.counters_for(session, live)
        snap = counters.snapshot()
        report = session_report(live, live_service.products_of(session, live.id), snap)
        handle = _handles(session, {live.streamer_id}).get(live.streamer_id, "")
    minutes = [m.minute for m in report.per_minute]
    chart = json.dumps(
        [
            {
                "type": "scatter",
                "name": "concurrent",
                "x": minutes,
                "y": [m.concurrent for m in report.per_minute],
            },
            {
                "type": "bar",
                "name": "orders",
                "x": minutes,
                "y": [m.orders for m in report.per_minute],
                "yaxis": "y2",
            },
        ]
    )
    return _page(
        request,
        "session.html",
        who,
        live=live,
        report=report,
        snap=snap,
        handle=handle,
        chart=chart,
    )


@router.get("/live/{session_id}/stream")
def session_stream(session_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return Response(status_code=401)
        try:
            live = live_service.session_for(session, who, session_id)
        except HutongError:
            return Response(status_code=404)
        counters = runtime.live.counters_for(session, live)
    events = counter_events(request, counters, live.id, 1_000, None)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/streamers/{streamer_id}", response_class=HTMLResponse)
def streamer_page(streamer_id: str, request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        try:
            streamer = live_service.streamer_for(session, who, streamer_id)
        except HutongError:
            return _page(request, "missing.html", who, status=404)
        latest = trust.latest(session, streamer.id)
        history = list(
            session.scalars(
                select(TrustScore)
                .where(TrustScore.streamer_id == streamer.id)
                .order_by(TrustScore.id.desc())
                .limit(20)
            )
        )
        penalties = list(
            session.scalars(
                select(Penalty)
                .where(Penalty.streamer_id == streamer.id)
                .order_by(Penalty.occurred_at)
            )
        )
        flags = trust.flags_of(session, who, streamer.id)
    in_force = {s.value for s in IN_FORCE}
    chart = json.dumps(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [f["deduction_cp"] / 100 for f in latest.factors],
                "y": [f["factor"] for f in latest.factors],
            }
        ]
        if latest is not None
        else []
    )
    return _page(
        request,
        "streamer.html",
        who,
        streamer=streamer,
        latest=latest,
        history=history,
        penalties=penalties,
        flags=flags,
        in_force=in_force,
        chart=chart,
        revoked=PenaltyState.REVOKED.value,
    )


@router.get("/traffic", response_class=HTMLResponse)
def traffic_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
    context = _traffic_context(runtime, who)
    return _page(request, "traffic.html", who, errors={}, form={}, **context)


def _traffic_context(runtime: Runtime, who: Principal) -> dict[str, Any]:
    from hutong.traffic import queries as traffic
    from hutong.traffic.models import Link, LinkPolicy, Platform

    with runtime.store.reading() as session:
        placements = list(session.scalars(traffic.placements(who).limit(200)))
        campaigns = list(session.scalars(traffic.campaigns(who).limit(200)))
        ids = [c.id for c in campaigns]
        links = list(session.scalars(select(Link).where(Link.campaign_id.in_(ids)).limit(500)))
        policies = list(
            session.scalars(
                select(LinkPolicy).order_by(LinkPolicy.source_platform_id, LinkPolicy.valid_from)
            )
        )
    buyer = who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT)
    with runtime.store.reading() as session:
        platforms = [p.id for p in session.scalars(select(Platform).order_by(Platform.id))]
    return {
        "platforms": platforms,
        "may_set_policy": who.is_operator or who.kind is TenantKind.CONTENT_PLATFORM,
        "placements": placements,
        "campaigns": campaigns,
        "links": links,
        "policies": policies,
        "public_url": runtime.settings.public_url,
        "buyer": buyer,
    }


CAMPAIGN_FIELDS = {  # the API's field: the form's
    "placement_ids": "placement",
    "cpc_fen": "price",
    "cpm_fen": "price",
    "cps_rate_bp": "price",
    "budget_fen": "budget",
}


class _Refused(Exception):
    """A form's errors: raised inside the transaction so that nothing of it is kept."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@router.post("/campaigns", response_class=HTMLResponse)
async def campaign_form(request: Request, runtime: RuntimeDep) -> Response:
    """A buyer creates a campaign on one placement and its tracked link, in one go."""
    lang = pick_lang(request)
    form = await forms.read_form(request)
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
    try:
        with runtime.store.transaction() as session:
            _create_campaign(session, who, runtime, form, lang)
    except _Refused as refused:
        return _traffic_with(request, runtime, who, refused.errors, form)
    except HutongError as exc:
        field = "web_url" if exc.code == "invalid_target" else "name"
        return _traffic_with(request, runtime, who, {field: str(exc)}, form)
    return RedirectResponse("/console/traffic", status_code=303)


def _create_campaign(
    session: Session, who: Principal, runtime: Runtime, form: dict[str, list[str]], lang: str
) -> None:
    from hutong.commerce.catalog import seller_platform
    from hutong.traffic import service as traffic_service
    from hutong.traffic.schemas import CampaignIn, LinkIn

    billing = forms.first(form, "billing_model")
    try:
        price = forms.fen_of(form, "price")  # fen for CPC and CPM; basis points for CPS
        budget = forms.fen_of(form, "budget")
    except forms.FieldError as exc:
        raise _Refused({exc.field: forms.message(exc.kind, lang)}) from exc
    now = dt.datetime.now(dt.UTC)
    try:
        campaign_in = CampaignIn(
            name=forms.first(form, "name"),
            target_platform_id=seller_platform(session, who),
            placement_ids=[forms.first(form, "placement")],
            billing_model=billing,
            cpc_fen=price if billing == "cpc" else 0,
            cpm_fen=price if billing == "cpm" else 0,
            cps_rate_bp=price if billing == "cps" else 0,  # 6.00 (%) is 600 basis points
            budget_fen=budget,
            starts_at=now,
            ends_at=now + dt.timedelta(days=30),
        )
        campaign = traffic_service.create_campaign(session, who, campaign_in)
        link_in = LinkIn(
            campaign_id=campaign.id,
            placement_id=campaign_in.placement_ids[0],
            target_kind=forms.first(form, "target_kind") or "activity",
            web_url=forms.first(form, "web_url"),
        )
    except ValidationError as exc:
        raise _Refused(forms.errors_of(exc, lang, CAMPAIGN_FIELDS)) from exc
    traffic_service.create_link(session, who, link_in, runtime.settings.passcode_ttl_days)


POLICY_FIELDS = {"source_platform_id": "source", "target_platform_id": "target"}


@router.post("/policies", response_class=HTMLResponse)
async def policy_form(request: Request, runtime: RuntimeDep) -> Response:
    """A content platform (or the operator) changes a link policy: a new version from a
    moment on; the history stays, and the jump follows it within the cache's poll."""
    from hutong.traffic import service as traffic_service
    from hutong.traffic.schemas import PolicyIn

    lang = pick_lang(request)
    form = await forms.read_form(request)
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
    source = forms.first(form, "source") if who.is_operator else (who.platform_id or "")
    day = forms.first(form, "valid_from")
    try:
        with runtime.store.transaction() as session:
            try:
                body = PolicyIn(
                    source_platform_id=source,
                    target_platform_id=forms.first(form, "target") or None,
                    surface=forms.first(form, "surface") or None,
                    modes=[m for m in form.get("modes", []) if m],
                    valid_from=f"{day}T00:00:00+08:00" if day else "",
                    reason=forms.first(form, "reason")[:2000],
                )
            except ValidationError as exc:
                raise _Refused(forms.errors_of(exc, lang, POLICY_FIELDS)) from exc
            traffic_service.add_policy(session, who, body)
    except _Refused as refused:
        return _traffic_with(request, runtime, who, refused.errors, form)
    except HutongError as exc:
        return _traffic_with(request, runtime, who, {"source": str(exc)}, form)
    return RedirectResponse("/console/traffic", status_code=303)


def _traffic_with(
    request: Request,
    runtime: Runtime,
    who: Principal,
    errors: dict[str, str],
    form: dict[str, list[str]],
) -> HTMLResponse:
    context = _traffic_context(runtime, who)
    flat = {k: v[0] for k, v in form.items()}
    return _page(request, "traffic.html", who, errors=errors, form=flat, **context)


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
    return _page(request, "orders.html", who, errors={}, form={}, **_orders_context(runtime, who))


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
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        try:
            context = _order_context(session, who, order_id)
        except HutongError:
            return _page(request, "missing.html", who, status=404)
    return _page(request, "order.html", who, errors={}, form={}, **context)


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
        who = _principal(request, runtime, session)
    if who is None:
        return _signin_redirect()
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
            return _page(request, "missing.html", who, status=404)
    flat = {k: v[0] for k, v in form.items()}
    return _page(request, "order.html", who, errors=errors, form=flat, **context)


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
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        try:
            order_id = payments.visible_sale(session, who, after_sale_id).order_id
        except HutongError:
            return _page(request, "missing.html", who, status=404)
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
    return _page(request, "order.html", who, errors=errors, form={}, **context)


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
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
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
    return _page(request, "orders.html", who, errors=errors, form=form, **context)


@router.get("/attribution", response_class=HTMLResponse)
def attribution_page(
    request: Request, runtime: RuntimeDep, by: str = "source_platform"
) -> Response:
    """The latest run's models side by side, by the dimension chosen."""
    from hutong.attribution import reports
    from hutong.attribution.models import AttributionRun

    if by not in reports.DIMENSIONS:
        by = "source_platform"
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        run = session.scalar(
            select(AttributionRun)
            .where(AttributionRun.state == "done")
            .order_by(AttributionRun.started_at.desc())
            .limit(1)
        )
        rows: list[dict[str, Any]] = []
        if run is not None:
            table = reports.visibility(session, who).apply(
                reports.credits_of(runtime.settings.lake_dir, run)
            )
            rows = reports.compare(table, run.models, by)
    chart = json.dumps(
        [
            {
                "type": "bar",
                "name": model,
                "x": [r["key"] or "—" for r in rows],
                "y": [r["credits_fen"].get(model, 0) / 100 for r in rows],
            }
            for model in (run.models if run is not None else [])
        ]
    )
    return _page(
        request,
        "attribution.html",
        who,
        run=run,
        rows=rows,
        by=by,
        dimensions=reports.DIMENSIONS,
        chart=chart,
    )


@router.get("/settlement", response_class=HTMLResponse)
def settlement_page(
    request: Request, runtime: RuntimeDep, period: str | None = None, party: str | None = None
) -> Response:
    """A party's statement for a month, with its downloads: one's own; the operator chooses
    among the parties with lines in the month."""
    from hutong.settlement import statements
    from hutong.settlement.models import JournalLine, Period

    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        periods = [p.id for p in session.scalars(select(Period).order_by(Period.id.desc()))]
        chosen = period if period in periods else (periods[0] if periods else None)
        parties = [who.tenant_id]
        if who.is_operator and chosen:
            parties = (
                list(
                    session.scalars(
                        select(JournalLine.tenant_id)
                        .where(JournalLine.period_id == chosen)
                        .group_by(JournalLine.tenant_id)
                        .order_by(JournalLine.tenant_id)
                    )
                )
                or parties
            )
        whose = party if party in parties else parties[0]
        found = statements.statement(session, whose, chosen) if chosen else None
    return _page(
        request,
        "settlement.html",
        who,
        periods=periods,
        period=chosen,
        statement=found,
        parties=parties,
        party=whose,
    )


@router.get("/settlement/{period_id}/statement.{fmt}")
def statement_file(
    period_id: str, fmt: str, request: Request, runtime: RuntimeDep, party: str | None = None
) -> Response:
    from hutong.settlement import statements

    if fmt not in ("csv", "xlsx"):
        return Response(status_code=404)
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return Response(status_code=401)
        whose = party if who.is_operator and party else who.tenant_id
        try:
            found = statements.statement(session, whose, period_id)
        except HutongError:
            return Response(status_code=404)
    name = f"hutong-statement-{period_id}-{whose}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(
            statements.to_csv(found), media_type="text/csv; charset=utf-8", headers=disposition
        )
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(statements.to_xlsx(found), media_type=kind, headers=disposition)


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = _principal(request, runtime, session)
        if who is None:
            return _signin_redirect()
        biggest = session.scalars(live_service.visible_sessions(who)).all()
        measured = []
        for live in biggest[:5]:
            snap = runtime.live.counters_for(session, live).snapshot()
            measured.append((live, snap))
    charts = {
        f.key: json.dumps(
            [{"type": "bar", "x": [p for p, _ in f.points], "y": [v for _, v in f.points]}]
        )
        for f in market.FIGURES
    }
    return _page(
        request, "market.html", who, figures=market.FIGURES, charts=charts, measured=measured
    )


# -- static files --------------------------------------------------------------------------
@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=_cached())


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = STATIC / name
    if not re.fullmatch(r"[\w.\-]+", name) or not path.is_file():
        return Response(status_code=404)
    kind = {".js": "text/javascript", ".css": "text/css"}.get(
        path.suffix, "application/octet-stream"
    )
    return FileResponse(path, media_type=kind, headers=_cached())


def _cached() -> dict[str, str]:
    return {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
