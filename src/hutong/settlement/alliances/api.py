"""HTTP routes of the alliance pollers: a content platform connects its publisher account at
Taobao Alliance or JD Union, says what its positions stand for (which affiliate or streamer),
polls now (the worker polls every few minutes) and reads the lines imported. The shelf
platform that pays sees the lines of accounts it pays for."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, status
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hutong.api.auth import PrincipalDep, RuntimeDep, SessionDep, UnboundPrincipalDep
from hutong.errors import Conflict, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.settlement.alliances.poller import poll_account, query_for
from hutong.settlement.models import AllianceAccount, AllianceOrder, AlliancePosition
from hutong.settlement.schemas import (
    AllianceAccountIn,
    AllianceAccountOut,
    AllianceOrderOut,
    PollIn,
    PollOut,
    PositionIn,
    PositionOut,
)
from hutong.tenants.models import Tenant, TenantKind
from hutong.tenants.principal import Principal

router = APIRouter(prefix="/v1/alliances", tags=["alliances"])


def _out(a: AllianceAccount) -> AllianceAccountOut:
    return AllianceAccountOut.model_validate(a, from_attributes=True)


def _tenant_of_kind(session: Session, tenant_id: str, kind: TenantKind, what: str) -> None:
    found = session.get(Tenant, tenant_id)
    if found is None or found.kind != kind:
        raise InvalidInput(f"{what} {tenant_id!r} is not a {kind.value} tenant")


def _visible(session: Session, who: Principal, account_id: str) -> AllianceAccount:
    found = session.get(AllianceAccount, account_id)
    if found is None or not (who.is_operator or who.tenant_id in (found.owner_id, found.payer_id)):
        raise NotFound(f"alliance account {account_id} not found")
    return found


def _owned(session: Session, who: Principal, account_id: str) -> AllianceAccount:
    who.require_admin()
    found = _visible(session, who, account_id)
    if not who.is_operator and found.owner_id != who.tenant_id:
        raise NotFound(f"alliance account {account_id} not found")
    return found


@router.post("/accounts", response_model=AllianceAccountOut, status_code=status.HTTP_201_CREATED)
def connect_account(
    body: AllianceAccountIn, session: SessionDep, who: PrincipalDep, runtime: RuntimeDep
) -> AllianceAccountOut:
    """Connect a publisher account; its secrets are sealed and never shown again."""
    who.require_admin()
    if who.is_operator:
        if body.owner_id is None:
            raise InvalidInput("the operator names the content platform (owner_id)")
        owner = body.owner_id
    else:
        who.require_kind(TenantKind.CONTENT_PLATFORM)
        if body.owner_id not in (None, who.tenant_id):
            raise InvalidInput("a content platform connects its own accounts")
        owner = who.tenant_id
    _tenant_of_kind(session, owner, TenantKind.CONTENT_PLATFORM, "owner")
    _tenant_of_kind(session, body.payer_id, TenantKind.SHELF_PLATFORM, "payer")
    query = query_for(body.platform)
    missing = [k for k in query.settings_required if not body.settings.get(k)]
    if missing:
        raise InvalidInput(f"{body.platform} needs settings: {', '.join(missing)}")
    key = body.settings["app_key"]
    if session.scalar(
        select(AllianceAccount.id).where(
            AllianceAccount.platform == body.platform, AllianceAccount.publisher_key == key
        )
    ):
        raise Conflict(f"{body.platform} account {key} is already connected")
    secret = set(query.settings_secret)
    start = body.start_at or dt.datetime.now(dt.UTC)
    if start.tzinfo is None:
        raise InvalidInput("start_at needs a time zone")
    row = AllianceAccount(
        id=new_id("ala"),
        platform=body.platform,
        owner_id=owner,
        payer_id=body.payer_id,
        publisher_key=key,
        settings={k: v for k, v in body.settings.items() if k not in secret},
        sealed=runtime.logistics.sealer.seal(
            {k: v for k, v in body.settings.items() if k in secret}
        ),
        gateway_url=body.gateway_url,
        polled_through=start,
        window_seconds=int(query.max_window.total_seconds()),
        last_error="",
    )
    session.add(row)
    session.flush()
    return _out(row)


@router.get("/accounts", response_model=list[AllianceAccountOut])
def list_accounts(session: SessionDep, who: PrincipalDep) -> list[AllianceAccountOut]:
    query = select(AllianceAccount).order_by(AllianceAccount.created_at, AllianceAccount.id)
    if not who.is_operator:
        query = query.where(
            or_(
                AllianceAccount.owner_id == who.tenant_id, AllianceAccount.payer_id == who.tenant_id
            )
        )
    return [_out(a) for a in session.scalars(query)]


@router.put("/accounts/{account_id}/positions/{position_id}", response_model=PositionOut)
def put_position(
    account_id: str, position_id: str, body: PositionIn, session: SessionDep, who: PrincipalDep
) -> PositionOut:
    """What a position stands for: its placement here and the affiliate (a streamer) whose
    share of the commission the rate table sets."""
    account = _owned(session, who, account_id)
    if not position_id.isdigit() or len(position_id) > 32:
        raise InvalidInput("a position id is the alliance's number (adzone_id, positionId)")
    if body.affiliate_id is not None:
        _tenant_of_kind(session, body.affiliate_id, TenantKind.STREAMER, "affiliate")
    row = session.get(AlliancePosition, (account.id, position_id)) or AlliancePosition(
        account_id=account.id, position_id=position_id
    )
    row.placement_id, row.affiliate_id = body.placement_id, body.affiliate_id
    session.add(row)
    session.flush()
    return PositionOut.model_validate(row, from_attributes=True)


@router.post("/accounts/{account_id}/poll", response_model=PollOut)
def poll_now(
    account_id: str, who: UnboundPrincipalDep, runtime: RuntimeDep, body: PollIn | None = None
) -> PollOut:
    """Catch the account up now, or up to ``until`` (idempotent: lines already imported are
    updated in place, never imported twice)."""
    body = body or PollIn()
    if body.until is not None and body.until.tzinfo is None:
        raise InvalidInput("until needs a time zone")
    with runtime.store.reading() as session:
        _owned(session, who, account_id)
    with httpx.Client(timeout=10.0) as client:
        result = poll_account(
            runtime.store,
            runtime.logistics.sealer,
            account_id,
            client,
            now=body.until,
            max_windows=body.max_windows,
        )
    return PollOut.model_validate(dataclasses.asdict(result))


@router.get("/orders", response_model=list[AllianceOrderOut])
def list_orders(
    session: SessionDep,
    who: PrincipalDep,
    account_id: str | None = None,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AllianceOrderOut]:
    """Imported lines, most recently changed first."""
    query = (
        select(AllianceOrder)
        .join(AllianceAccount, AllianceAccount.id == AllianceOrder.account_id)
        .order_by(AllianceOrder.modified_at.desc(), AllianceOrder.id)
        .limit(limit)
    )
    if not who.is_operator:
        query = query.where(
            or_(
                AllianceAccount.owner_id == who.tenant_id, AllianceAccount.payer_id == who.tenant_id
            )
        )
    if account_id is not None:
        query = query.where(AllianceOrder.account_id == account_id)
    if state is not None:
        query = query.where(AllianceOrder.state == state)
    return [
        AllianceOrderOut.model_validate(o, from_attributes=True) for o in session.scalars(query)
    ]
