"""Streamers, sessions and penalties: who may do what, and the penalty state machine.

Who sees what: the operator everything; a content platform the streamers and sessions on its
platform; a streamer tenant its own record; shelf platforms and merchants read every streamer's
record (they choose whom to sell through, and penalties are published by the platforms).
Writing is the streamer's platform's (or the operator's); a streamer may appeal its own
penalties.
"""

from __future__ import annotations

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from hutong.commerce.models import Sku
from hutong.errors import Conflict, Forbidden, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.live.models import (
    IN_FORCE,
    PENALTY_MOVES,
    LiveSession,
    Penalty,
    PenaltyEvent,
    PenaltyState,
    SessionProduct,
    SessionState,
    Streamer,
)
from hutong.live.schemas import PenaltyIn, SessionIn, StreamerIn
from hutong.store import utcnow
from hutong.tenants.models import Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.models import Platform


class IllegalPenaltyMove(Conflict):
    code = "illegal_transition"
    title = "The penalty cannot make this change in its current state"


def visible_streamers(who: Principal) -> Select[Streamer]:
    query = select(Streamer)
    if who.is_operator or who.kind in (TenantKind.SHELF_PLATFORM, TenantKind.MERCHANT):
        return query
    if who.kind is TenantKind.CONTENT_PLATFORM:
        return query.where(Streamer.platform_id == (who.platform_id or ""))
    if who.kind is TenantKind.STREAMER:
        return query.where(Streamer.tenant_id == who.tenant_id)
    return query.where(false())


def streamer_for(session: Session, who: Principal, streamer_id: str) -> Streamer:
    found = session.scalar(visible_streamers(who).where(Streamer.id == streamer_id))
    if found is None:
        raise NotFound(f"streamer {streamer_id} not found")
    return found


def _platform_of(who: Principal, named: str | None) -> str:
    """The platform a write is for: the content platform's own; the operator names one."""
    if who.is_operator:
        if named is None:
            raise InvalidInput("the operator names the platform (platform_id)")
        return named
    who.require_kind(TenantKind.CONTENT_PLATFORM)
    if named not in (None, who.platform_id) or who.platform_id is None:
        raise InvalidInput("a content platform registers streamers on its own platform")
    return who.platform_id


def writes_for(who: Principal, streamer: Streamer) -> None:
    if who.is_operator:
        return
    if who.kind is not TenantKind.CONTENT_PLATFORM or who.platform_id != streamer.platform_id:
        raise Forbidden("only the streamer's platform (or the operator) does this")


def create_streamer(session: Session, who: Principal, body: StreamerIn) -> Streamer:
    who.require_admin()
    platform = _platform_of(who, body.platform_id)
    if session.get(Platform, platform) is None:
        raise InvalidInput(f"unknown platform {platform!r}")
    if body.tenant_id is not None:
        tenant = session.get(Tenant, body.tenant_id)
        if tenant is None or tenant.kind != TenantKind.STREAMER.value:
            raise InvalidInput(f"{body.tenant_id!r} is not a streamer tenant")
    taken = session.scalar(
        select(Streamer.id).where(Streamer.platform_id == platform, Streamer.handle == body.handle)
    )
    if taken is not None:
        raise Conflict(f"{platform} already has a streamer @{body.handle} ({taken})")
    streamer = Streamer(
        id=new_id("str"),
        platform_id=platform,
        handle=body.handle,
        name=body.name,
        agency=body.agency,
        tenant_id=body.tenant_id,
        created_by=who.tenant_id,
    )
    session.add(streamer)
    session.flush()
    return streamer


def penalty_points(session: Session, streamer_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Penalty.points), 0)).where(
            Penalty.streamer_id == streamer_id,
            Penalty.state.in_([s.value for s in IN_FORCE]),
        )
    )
    return int(total or 0)


def create_session(session: Session, who: Principal, body: SessionIn) -> LiveSession:
    who.require_admin()
    streamer = streamer_for(session, who, body.streamer_id)
    writes_for(who, streamer)
    if body.ends_at is not None and body.ends_at <= body.starts_at:
        raise InvalidInput("a session ends after it starts")
    refs = [p.product_ref for p in body.products]
    if len(set(refs)) != len(refs):
        raise InvalidInput("a product is on a session's shelf once")
    for product in body.products:
        if product.sku_id is not None and session.get(Sku, product.sku_id) is None:
            raise InvalidInput(f"unknown sku {product.sku_id!r}")
    live = LiveSession(
        id=new_id("lvs"),
        platform_id=streamer.platform_id,
        streamer_id=streamer.id,
        title=body.title,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        created_by=who.tenant_id,
    )
    session.add(live)
    session.flush()
    for position, product in enumerate(body.products):
        session.add(
            SessionProduct(
                session_id=live.id,
                product_ref=product.product_ref,
                position=position,
                title=product.title,
                price_fen=product.price_fen,
                sku_id=product.sku_id,
            )
        )
    session.flush()
    return live


def writable_session(session: Session, who: Principal, session_id: str) -> LiveSession:
    """A session the caller may write to: its platform's (or the operator's)."""
    who.require_admin()
    live = session_for(session, who, session_id)
    if not who.is_operator and (
        who.kind is not TenantKind.CONTENT_PLATFORM or who.platform_id != live.platform_id
    ):
        raise Forbidden("only the session's platform (or the operator) does this")
    return live


def end_session(session: Session, who: Principal, session_id: str) -> LiveSession:
    live = writable_session(session, who, session_id)
    if live.state != SessionState.ENDED.value:
        live.state = SessionState.ENDED.value
        live.ends_at = live.ends_at or utcnow()
    return live


def visible_sessions(who: Principal) -> Select[LiveSession]:
    streamers = visible_streamers(who).with_only_columns(Streamer.id)
    return select(LiveSession).where(LiveSession.streamer_id.in_(streamers.scalar_subquery()))


def session_for(session: Session, who: Principal, session_id: str) -> LiveSession:
    found = session.scalar(visible_sessions(who).where(LiveSession.id == session_id))
    if found is None:
        raise NotFound(f"live session {session_id} not found")
    return found


def products_of(session: Session, session_id: str) -> list[SessionProduct]:
    return list(
        session.scalars(
            select(SessionProduct)
            .where(SessionProduct.session_id == session_id)
            .order_by(SessionProduct.position)
        )
    )


def penalties_of(session: Session, streamer_id: str) -> list[Penalty]:
    """A streamer's penalties by the offence's time, every state."""
    query = (
        select(Penalty)
        .where(Penalty.streamer_id == streamer_id)
        .order_by(Penalty.occurred_at, Penalty.id)
    )
    return list(session.scalars(query))


def raise_penalty(session: Session, who: Principal, streamer_id: str, body: PenaltyIn) -> Penalty:
    who.require_admin()
    streamer = streamer_for(session, who, streamer_id)
    writes_for(who, streamer)
    penalty = Penalty(
        id=new_id("pen"),
        streamer_id=streamer.id,
        platform_id=streamer.platform_id,
        points=body.points,
        code=body.code,
        reason=body.reason,
        occurred_at=body.occurred_at,
        state=PenaltyState.RAISED.value,
        raised_by=who.tenant_id,
    )
    session.add(penalty)
    session.flush()
    session.add(
        PenaltyEvent(penalty_id=penalty.id, to_state=penalty.state, by_tenant=who.tenant_id)
    )
    session.flush()
    return penalty


def penalty_for(session: Session, who: Principal, penalty_id: str) -> Penalty:
    found = session.get(Penalty, penalty_id)
    if found is None:
        raise NotFound(f"penalty {penalty_id} not found")
    streamer_for(session, who, found.streamer_id)  # NotFound unless its streamer is visible
    return found


def decide(
    session: Session, who: Principal, penalty_id: str, target: PenaltyState, note: str
) -> Penalty:
    """Move a penalty: the streamer (or its platform) appeals; the platform upholds or
    revokes. Anything the state machine does not allow is a 409, never a silent change."""
    who.require_admin()
    penalty = penalty_for(session, who, penalty_id)
    streamer = session.get(Streamer, penalty.streamer_id)
    assert streamer is not None
    own = who.kind is TenantKind.STREAMER and streamer.tenant_id == who.tenant_id
    if not (target is PenaltyState.APPEALED and own):
        writes_for(who, streamer)
    current = PenaltyState(penalty.state)
    if target not in PENALTY_MOVES[current]:
        raise IllegalPenaltyMove(f"a {current.value} penalty cannot become {target.value}")
    session.add(
        PenaltyEvent(
            penalty_id=penalty.id,
            from_state=current.value,
            to_state=target.value,
            note=note,
            by_tenant=who.tenant_id,
        )
    )
    penalty.state, penalty.updated_at = target.value, utcnow()
    session.flush()
    return penalty


def history_of(session: Session, penalty_id: str) -> list[PenaltyEvent]:
    return list(
        session.scalars(
            select(PenaltyEvent)
            .where(PenaltyEvent.penalty_id == penalty_id)
            .order_by(PenaltyEvent.id)
        )
    )
