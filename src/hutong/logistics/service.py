"""Shipping orders and following parcels: carrier choice, waybills, write-back to the platform,
tracking from pushes and polls on one timeline, interception, stale parcels.

As with payments, no transaction is open while a carrier or platform is called: the shipment row
is committed first, the carrier asked, the answer written after. Tracking events are keyed by
(shipment, time, carrier code, place): a full re-push, or a poll that returns what a push already
brought, adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.commerce import interop
from hutong.commerce import orders as order_actions
from hutong.commerce.models import Order
from hutong.commerce.queries import order_for
from hutong.commerce.states import IllegalTransition, OrderState
from hutong.errors import Conflict, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.logistics import rules
from hutong.logistics.models import CarrierAccount as AccountRow
from hutong.logistics.models import CarrierRule, PlatformAccount, Shipment, TrackingEvent
from hutong.logistics.platforms.protocol import PlatformAccount as PlatformCreds
from hutong.logistics.platforms.protocol import ShippingCall
from hutong.logistics.protocol import (
    RANK,
    TERMINAL,
    Carrier,
    CarrierAccount,
    Parcel,
    PushRefused,
    Reply,
    Scan,
    TrackStatus,
)
from hutong.sealing import Sealer
from hutong.store import Store, utcnow
from hutong.tenants.principal import Principal

log = logging.getLogger("hutong.logistics")


@dataclass
class Logistics:
    store: Store
    sealer: Sealer
    carriers: Mapping[str, Carrier]
    platforms: Mapping[str, ShippingCall]
    client: httpx.Client
    public_url: str
    poll_every: dt.timedelta = dt.timedelta(minutes=30)
    stale_after: dt.timedelta = dt.timedelta(hours=72)

    def carrier(self, name: str) -> Carrier:
        found = self.carriers.get(name)
        if found is None:
            raise NotFound(f"unknown carrier {name!r}")
        return found

    def account(self, row: AccountRow) -> CarrierAccount:
        return CarrierAccount(
            id=row.id,
            carrier=row.carrier,
            customer_key=row.customer_key,
            settings={**row.settings, **self.sealer.unseal(row.sealed)},
            gateway_url=row.gateway_url,
            push_url=f"{self.public_url}/tracking/{row.carrier}",
        )


class NoCarrier(Conflict):
    code = "no_carrier"
    title = "No carrier could take the parcel"


class CarrierUnsettled(Conflict):
    code = "carrier_unsettled"
    title = "The carrier's answer could not be read; ask again"


# -- accounts --------------------------------------------------------------------------------
def connect_carrier(
    ctx: Logistics,
    session: Session,
    who: Principal,
    carrier_name: str,
    settings: dict[str, str],
    gateway_url: str,
) -> AccountRow:
    who.require_admin()
    carrier = ctx.carrier(carrier_name)
    missing = [k for k in carrier.settings_required if not settings.get(k)]
    unknown = set(settings) - set(carrier.settings_required)
    if missing or unknown:
        raise InvalidInput(f"{carrier.name} needs exactly: {', '.join(carrier.settings_required)}")
    key = settings[carrier.customer_key_setting]
    if session.scalar(
        select(AccountRow.id).where(
            AccountRow.carrier == carrier.name, AccountRow.customer_key == key
        )
    ):
        raise Conflict(f"{carrier.name} account {key} is already connected")
    row = AccountRow(
        id=new_id("cac"),
        seller_id=who.tenant_id,
        carrier=carrier.name,
        customer_key=key,
        settings={k: v for k, v in settings.items() if k not in carrier.settings_secret},
        sealed=ctx.sealer.seal({k: v for k, v in settings.items() if k in carrier.settings_secret}),
        gateway_url=gateway_url.rstrip("/"),
    )
    session.add(row)
    session.flush()
    return row


def connect_platform(
    ctx: Logistics,
    session: Session,
    who: Principal,
    platform_id: str,
    settings: dict[str, str],
    gateway_url: str,
) -> PlatformAccount:
    who.require_admin()
    call = ctx.platforms.get(platform_id)
    if call is None:
        raise NotFound(f"hutong cannot write shipments back to {platform_id!r}")
    missing = [k for k in call.settings_required if not settings.get(k)]
    if missing:
        raise InvalidInput(f"{platform_id} needs settings: {', '.join(missing)}")
    existing = session.scalar(
        select(PlatformAccount).where(
            PlatformAccount.seller_id == who.tenant_id, PlatformAccount.platform_id == platform_id
        )
    )
    row = existing or PlatformAccount(
        id=new_id("plt"), seller_id=who.tenant_id, platform_id=platform_id
    )
    row.settings = {k: v for k, v in settings.items() if k not in call.settings_secret}
    row.sealed = ctx.sealer.seal({k: v for k, v in settings.items() if k in call.settings_secret})
    row.gateway_url = gateway_url.rstrip("/")
    session.add(row)
    session.flush()
    return row


# -- shipping -----------------------------------------------------------------------------------
def ship_order(
    ctx: Logistics, who: Principal, order_id: str, carrier: str | None = None, weight_g: int = 1000
) -> str:
    """Choose a carrier (``carrier``, or the seller's rule), get a waybill, mark the order
    shipped and write the shipment back to its platform; the shipment's id. NoCarrier when
    every candidate refused (each refusal is kept as a cancelled shipment with its error)."""
    who.require_admin()
    with ctx.store.reading() as session:
        order = order_for(session, who, order_id)
        if order.state not in (OrderState.PAID, OrderState.PARTIALLY_REFUNDED):
            raise Conflict(f"an order that is {order.state} cannot be shipped")
        existing = session.scalar(
            select(Shipment).where(
                Shipment.order_id == order.id, Shipment.status != TrackStatus.CANCELLED.value
            )
        )
        if existing is not None and existing.waybill_no is not None:
            raise Conflict("the order already has a shipment")
        # a shipment whose carrier's answer could not be read is asked again, as itself
        unsettled = (
            (existing.id, existing.carrier, _parcel_of(existing, order))
            if existing is not None
            else None
        )
        rule = session.get(CarrierRule, order.seller_id)
        accounts = {
            a.carrier: ctx.account(a)
            for a in session.scalars(
                select(AccountRow).where(
                    AccountRow.seller_id == order.seller_id, AccountRow.active.is_(True)
                )
            )
        }
        accepted = {
            name
            for name in accounts
            if interop.accepts(session, order.platform_id, "carrier", name, order.created_at)
        }
        if carrier is not None:
            interop.require(session, order.platform_id, "carrier", carrier, order.created_at)
            if carrier not in accounts:
                raise InvalidInput(f"the seller has no {carrier} account")
        parcel = Parcel(
            reference="",
            weight_g=weight_g,
            from_region=rule.ship_from if rule else "浙江省",
            to_region=order.region,
            receiver=dict(order.ship_to),
            declared_value_fen=order.total_fen,
        )
        # the measured record is read only when the rule asks for the fastest carrier
        fastest = rule is not None and rule.mode == "fastest"
        stats = rules.carrier_stats(session, order.region) if fastest else {}
    if unsettled is not None:
        shipment_id, unsettled_carrier, as_sent = unsettled
        if unsettled_carrier not in accounts:
            raise Conflict(f"shipment {shipment_id} waits on a {unsettled_carrier} account")
        return _request_waybill(
            ctx, order_id, shipment_id, unsettled_carrier, accounts[unsettled_carrier], as_sent
        )
    if carrier is not None:
        plan = [rules.Candidate(carrier, "requested")]
    else:
        plan = rules.plan(rule, sorted(accepted), parcel, accounts, ctx.carriers, ctx.client, stats)
    if not plan:
        raise NoCarrier("no carrier the seller holds an account with is accepted by the platform")
    errors = []
    for candidate in plan:
        account = accounts[candidate.carrier]
        shipment_id = _open_shipment(ctx, order_id, candidate, account, parcel)
        refusal = _request_waybill(ctx, order_id, shipment_id, candidate.carrier, account, parcel)
        if refusal.startswith("shp_"):
            return refusal
        errors.append(f"{candidate.carrier}: {refusal}")
    raise NoCarrier("every carrier refused: " + "; ".join(errors))


def _parcel_of(shipment: Shipment, order: Order) -> Parcel:
    """The parcel as the shipment first described it to its carrier."""
    return Parcel(
        reference=shipment.id,
        weight_g=shipment.weight_g,
        from_region=shipment.from_region,
        to_region=shipment.to_region,
        receiver=dict(order.ship_to),
        declared_value_fen=order.total_fen,
    )


def ask_unsettled_again(ctx: Logistics, limit: int = 100) -> int:
    """The worker's job: shipments whose carrier's answer could not be read are asked again
    (the same shipment, so the carrier answers with the waybill it made, if it made one);
    how many were settled, shipped or refused. Orders no longer waiting to ship are left
    (a refund meanwhile: the intercept job handles a waybill once one is known)."""
    with ctx.store.reading() as session:
        rows = session.execute(
            select(Shipment, Order, AccountRow)
            .join(Order, Order.id == Shipment.order_id)
            .join(AccountRow, AccountRow.id == Shipment.account_id)
            .where(
                Shipment.waybill_no.is_(None),
                Shipment.status == TrackStatus.INFO_RECEIVED.value,
                Order.state.in_([OrderState.PAID.value, OrderState.PARTIALLY_REFUNDED.value]),
                AccountRow.active.is_(True),
            )
            .order_by(Shipment.created_at)
            .limit(limit)
        ).all()
        waiting = [(s.id, o.id, s.carrier, ctx.account(a), _parcel_of(s, o)) for s, o, a in rows]
    settled = 0
    for shipment_id, order_id, carrier, account, parcel in waiting:
        try:
            _request_waybill(ctx, order_id, shipment_id, carrier, account, parcel)
        except CarrierUnsettled:
            continue
        settled += 1
    return settled


def _open_shipment(
    ctx: Logistics,
    order_id: str,
    candidate: rules.Candidate,
    account: CarrierAccount,
    parcel: Parcel,
) -> str:
    """The shipment row, committed before the carrier is asked: its id is the carrier's
    reference, so asking again with it can only get the same waybill."""
    now = utcnow()
    shipment_id = new_id("shp")
    with ctx.store.transaction() as session:
        order = session.scalar(
            select(Order).where(Order.id == order_id).with_for_update(key_share=True)
        )
        assert order is not None
        session.add(
            Shipment(
                id=shipment_id,
                order_id=order_id,
                seller_id=order.seller_id,
                account_id=account.id,
                carrier=candidate.carrier,
                waybill_no=None,
                status=TrackStatus.INFO_RECEIVED.value,
                from_region=parcel.from_region,
                to_region=parcel.to_region,
                weight_g=parcel.weight_g,
                quoted_fee_fen=candidate.fee_fen,
                promised_days=candidate.days,
                chosen_by=candidate.why[:40],
                created_at=now,
                next_poll_at=now + ctx.poll_every,
            )
        )
    return shipment_id


def _request_waybill(
    ctx: Logistics,
    order_id: str,
    shipment_id: str,
    carrier: str,
    account: CarrierAccount,
    parcel: Parcel,
) -> str:
    """Ask the carrier for the shipment's waybill: the shipment's id once shipped, or the
    carrier's refusal (the shipment cancelled, the next carrier's turn). CarrierUnsettled when
    the answer could not be read or did not come: the carrier may have taken the parcel, so no
    other carrier is asked, and the next request asks this one again for this shipment."""
    waybill = ctx.carrier(carrier).create_waybill(
        account,
        replace(parcel, reference=shipment_id),  # the carrier's order reference
        ctx.client,
    )
    with ctx.store.transaction() as session:
        # the order's lock first: a request and the worker asking again for the same
        # shipment settle it once (the second finds the waybill the first wrote)
        order = session.scalar(
            select(Order).where(Order.id == order_id).with_for_update(key_share=True)
        )
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and order is not None
        if shipment.waybill_no is not None:
            return shipment_id
        if not waybill.ok:
            shipment.error = waybill.error[:500]
            if waybill.refused:
                shipment.status = TrackStatus.CANCELLED.value
                return waybill.error or "refused"
        else:
            shipment.waybill_no, shipment.error = waybill.waybill_no, ""
            order_actions.transition(
                session,
                order,
                OrderState.SHIPPED,
                "shipped",
                carrier=carrier,
                waybill_no=waybill.waybill_no,
                shipment_id=shipment_id,
            )
    if not waybill.ok:
        raise CarrierUnsettled(
            f"{carrier}'s answer for shipment {shipment_id} could not be read "
            f"({waybill.error[:200]}); send the same request again to ask {carrier} again"
        )
    write_back(ctx, shipment_id)
    return shipment_id


def write_back(ctx: Logistics, shipment_id: str) -> bool:
    """Tell the order's platform the carrier and waybill (its published shipping call)."""
    with ctx.store.reading() as session:
        shipment = session.get(Shipment, shipment_id)
        order = session.get(Order, shipment.order_id) if shipment else None
        assert shipment is not None and order is not None and shipment.waybill_no
        row = session.scalar(
            select(PlatformAccount).where(
                PlatformAccount.seller_id == shipment.seller_id,
                PlatformAccount.platform_id == order.platform_id,
            )
        )
        call = ctx.platforms.get(order.platform_id)
        if row is None or call is None:
            return False  # nothing to write back to (recorded as not written back)
        creds = PlatformCreds(
            order.platform_id, {**row.settings, **ctx.sealer.unseal(row.sealed)}, row.gateway_url
        )
        args = (order.external_ref or order.id, shipment.carrier, shipment.waybill_no)
    result = call.send(creds, *args, ctx.client)
    with ctx.store.transaction() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        if result.ok:
            shipment.written_back_at = utcnow()
            shipment.writeback_error = ""
        else:
            shipment.writeback_error = result.error[:500]
    return result.ok


# -- tracking ----------------------------------------------------------------------------------
def fingerprint(scan: Scan) -> str:
    raw = f"{scan.occurred_at.astimezone(dt.UTC).isoformat()}|{scan.code}|{scan.location}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def record_scans(session: Session, shipment: Shipment, scans: list[Scan], source: str) -> int:
    """Add the events not yet on the shipment's timeline; move the shipment (and its order)."""
    known = set(
        session.scalars(
            select(TrackingEvent.fingerprint).where(TrackingEvent.shipment_id == shipment.id)
        )
    )
    added = 0
    for scan in scans:
        mark = fingerprint(scan)
        if mark in known:
            continue
        known.add(mark)
        try:
            with session.begin_nested():
                session.add(
                    TrackingEvent(
                        shipment_id=shipment.id,
                        fingerprint=mark,
                        status=scan.status.value,
                        code=scan.code[:40],
                        text=scan.text[:500],
                        location=scan.location[:120],
                        occurred_at=scan.occurred_at,
                        source=source,
                        received_at=utcnow(),
                    )
                )
        except IntegrityError:
            continue  # the same event from a push and a poll at once
        added += 1
    if added:
        _settle(session, shipment)
    return added


def _settle(session: Session, shipment: Shipment) -> None:
    events = list(
        session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment.id)
            .order_by(TrackingEvent.occurred_at)
        )
    )
    latest = events[-1]
    current = TrackStatus(shipment.status)
    newest = TrackStatus(latest.status)
    # the latest event decides, unless it is a late scan of an earlier stage
    if RANK[newest] >= RANK[current] or current not in TERMINAL:
        shipment.status = newest.value
    shipment.last_event_at = latest.occurred_at
    shipment.stale = False
    firsts = {TrackStatus(e.status): e.occurred_at for e in reversed(events)}
    shipment.picked_up_at = shipment.picked_up_at or firsts.get(TrackStatus.PICKED_UP)
    if TrackStatus.DELIVERED in firsts and shipment.delivered_at is None:
        shipment.delivered_at = firsts[TrackStatus.DELIVERED]
        _order_delivered(session, shipment)


def _order_delivered(session: Session, shipment: Shipment) -> None:
    order = session.scalar(
        select(Order).where(Order.id == shipment.order_id).with_for_update(key_share=True)
    )
    assert order is not None
    try:
        order_actions.transition(
            session,
            order,
            OrderState.DELIVERED,
            "delivered",
            shipment_id=shipment.id,
            carrier=shipment.carrier,
        )
    except IllegalTransition:
        log.info("order %s is %s: delivery recorded on the shipment only", order.id, order.state)


def receive_push(
    ctx: Logistics, carrier_name: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    carrier = ctx.carrier(carrier_name)

    def lookup(key: str) -> CarrierAccount | None:
        with ctx.store.reading() as session:
            row = session.scalar(
                select(AccountRow).where(
                    AccountRow.carrier == carrier.name, AccountRow.customer_key == key
                )
            )
            return ctx.account(row) if row is not None and row.active else None

    try:
        account, scans = carrier.read_push(headers, body, lookup)
    except PushRefused as refused:
        log.warning("%s push refused (%s): %s", carrier.name, refused.reason, refused.detail)
        return carrier.reply(False)
    by_waybill: dict[str, list[Scan]] = {}
    for scan in scans:
        by_waybill.setdefault(scan.waybill_no, []).append(scan)
    with ctx.store.transaction() as session:
        for waybill_no, batch in by_waybill.items():
            shipment = session.scalar(
                select(Shipment)
                .where(
                    Shipment.carrier == carrier.name,
                    Shipment.waybill_no == waybill_no,
                    Shipment.account_id == account.id,
                )
                .with_for_update(key_share=True)
            )
            if shipment is None:
                log.info(
                    "%s push for unknown waybill %s: acknowledged, ignored",
                    carrier.name,
                    waybill_no,
                )
                continue
            record_scans(session, shipment, batch, "push")
    return carrier.reply(True)


def poll_due(ctx: Logistics, now: dt.datetime | None = None, limit: int = 50) -> int:
    """Ask carriers about shipments due a poll: a carrier that stops pushing is still followed."""
    now = now or utcnow()
    with ctx.store.reading() as session:
        due = [
            (s.id, s.carrier, s.waybill_no, ctx.account(a))
            for s, a in session.execute(
                select(Shipment, AccountRow)
                .join(AccountRow, AccountRow.id == Shipment.account_id)
                .where(
                    Shipment.status.not_in([t.value for t in TERMINAL]),
                    Shipment.waybill_no.is_not(None),
                    Shipment.next_poll_at <= now,
                )
                .limit(limit)
            )
        ]
    for shipment_id, carrier, waybill_no, account in due:
        assert waybill_no is not None
        scans = ctx.carrier(carrier).track(account, waybill_no, ctx.client)
        with ctx.store.transaction() as session:
            shipment = session.scalar(
                select(Shipment).where(Shipment.id == shipment_id).with_for_update(key_share=True)
            )
            assert shipment is not None
            shipment.next_poll_at = utcnow() + ctx.poll_every
            if scans is not None:
                record_scans(session, shipment, scans, "poll")
    return len(due)


def flag_stale(ctx: Logistics, now: dt.datetime | None = None) -> int:
    """Mark shipments with no news for ``stale_after`` (and not finished) as stale."""
    limit = (now or utcnow()) - ctx.stale_after
    flagged = 0
    with ctx.store.transaction() as session:
        for shipment in session.scalars(
            select(Shipment).where(
                Shipment.status.not_in([t.value for t in TERMINAL]),
                Shipment.stale.is_(False),
                Shipment.waybill_no.is_not(None),
            )
        ):
            last = shipment.last_event_at or shipment.created_at
            if last < limit:
                shipment.stale = True
                flagged += 1
    return flagged


def intercept_refunded(ctx: Logistics) -> int:
    """A refund before pickup stops the parcel: cancel the waybill of refunded orders' shipments
    the carrier has not picked up yet."""
    with ctx.store.reading() as session:
        due = [
            (s.id, s.carrier, s.waybill_no, ctx.account(a))
            for s, a in session.execute(
                select(Shipment, AccountRow)
                .join(AccountRow, AccountRow.id == Shipment.account_id)
                .join(Order, Order.id == Shipment.order_id)
                .where(
                    Shipment.status == TrackStatus.INFO_RECEIVED.value,
                    Shipment.waybill_no.is_not(None),
                    Order.state == OrderState.REFUNDED.value,
                )
            )
        ]
    done = 0
    for shipment_id, carrier, waybill_no, account in due:
        assert waybill_no is not None
        if not ctx.carrier(carrier).cancel(account, waybill_no, ctx.client):
            continue  # too late: picked up meanwhile; the timeline will show it
        with ctx.store.transaction() as session:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            shipment.status = TrackStatus.CANCELLED.value
            shipment.error = "intercepted: the order was refunded before pickup"
            session.add(
                TrackingEvent(
                    shipment_id=shipment_id,
                    fingerprint=f"intercept:{shipment_id}",
                    status=TrackStatus.CANCELLED.value,
                    code="INTERCEPTED",
                    text=shipment.error,
                    location="",
                    occurred_at=utcnow(),
                    source="hutong",
                    received_at=utcnow(),
                )
            )
        done += 1
    return done
