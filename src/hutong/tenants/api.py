"""Tenant and API-key routes. A tenant sees itself (a shelf platform also its merchants)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from sqlalchemy import Select, or_, select

from hutong.api.auth import PrincipalDep, SessionDep
from hutong.api.idempotency import run_once
from hutong.errors import Forbidden, NotFound
from hutong.tenants import service
from hutong.tenants.models import ApiKey, Role, Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.tenants.schemas import KeyIn, KeyOut, MeOut, TenantIn, TenantOut

router = APIRouter(prefix="/v1", tags=["tenants"])


def tenant_out(t: Tenant) -> TenantOut:
    return TenantOut(
        id=t.id,
        kind=t.kind,
        name=t.name,
        parent_id=t.parent_id,
        platform_id=t.platform_id,
        created_at=t.created_at,
    )


def key_out(k: ApiKey, secret: str | None = None) -> KeyOut:
    return KeyOut(
        id=k.id,
        tenant_id=k.tenant_id,
        role=k.role,
        name=k.name,
        created_at=k.created_at,
        revoked_at=k.revoked_at,
        key=secret,
    )


def _visible_tenants(who: Principal) -> Select[Tenant]:
    query = select(Tenant).order_by(Tenant.created_at, Tenant.id)
    if who.is_operator:
        return query
    if who.kind is TenantKind.SHELF_PLATFORM:
        return query.where(or_(Tenant.id == who.tenant_id, Tenant.parent_id == who.tenant_id))
    return query.where(Tenant.id == who.tenant_id)


def _tenant_for(session: SessionDep, who: Principal, tenant_id: str) -> Tenant:
    found = session.scalar(_visible_tenants(who).where(Tenant.id == tenant_id))
    if found is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return found


def _may_manage_keys(who: Principal, tenant: Tenant) -> None:
    """Admins manage their own tenant's keys; operators and parent platforms manage below."""
    who.require_admin()
    if not (who.is_operator or tenant.id == who.tenant_id or tenant.parent_id == who.tenant_id):
        raise NotFound(f"tenant {tenant.id} not found")


@router.get("/me", response_model=MeOut)
def me(session: SessionDep, who: PrincipalDep) -> MeOut:
    tenant = session.get(Tenant, who.tenant_id)
    assert tenant is not None
    return MeOut(tenant=tenant_out(tenant), role=who.role.value)


@router.post("/tenants", status_code=201, response_model=TenantOut)
def create_tenant(
    body: TenantIn,
    session: SessionDep,
    who: PrincipalDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Operators create any tenant; a shelf platform creates merchants under itself."""
    who.require_admin()
    parent_id = body.parent_id
    if not who.is_operator:
        if who.kind is not TenantKind.SHELF_PLATFORM or body.kind is not TenantKind.MERCHANT:
            raise Forbidden("only operators create tenants (shelf platforms: their merchants)")
        parent_id = who.tenant_id
    return run_once(
        session,
        who,
        key,
        "POST /v1/tenants",
        body,
        lambda: (
            201,
            tenant_out(
                service.create_tenant(
                    session, body.kind, body.name, parent_id=parent_id, platform_id=body.platform_id
                )
            ),
        ),
    )


@router.get("/tenants", response_model=list[TenantOut])
def list_tenants(session: SessionDep, who: PrincipalDep) -> list[TenantOut]:
    return [tenant_out(t) for t in session.scalars(_visible_tenants(who).limit(1000))]


@router.get("/tenants/{tenant_id}", response_model=TenantOut)
def get_tenant(tenant_id: str, session: SessionDep, who: PrincipalDep) -> TenantOut:
    return tenant_out(_tenant_for(session, who, tenant_id))


@router.post("/tenants/{tenant_id}/keys", status_code=201, response_model=KeyOut)
def create_key(tenant_id: str, body: KeyIn, session: SessionDep, who: PrincipalDep) -> KeyOut:
    """A new key; its secret is in this answer and nowhere else, ever."""
    tenant = _tenant_for(session, who, tenant_id)
    _may_manage_keys(who, tenant)
    api_key, secret = service.issue_key(session, tenant.id, Role(body.role), body.name)
    return key_out(api_key, secret)


@router.get("/tenants/{tenant_id}/keys", response_model=list[KeyOut])
def list_keys(tenant_id: str, session: SessionDep, who: PrincipalDep) -> list[KeyOut]:
    tenant = _tenant_for(session, who, tenant_id)
    _may_manage_keys(who, tenant)
    rows = session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.created_at)
    )
    return [key_out(k) for k in rows]


@router.delete("/tenants/{tenant_id}/keys/{key_id}", response_model=KeyOut)
def revoke_key(tenant_id: str, key_id: str, session: SessionDep, who: PrincipalDep) -> KeyOut:
    tenant = _tenant_for(session, who, tenant_id)
    _may_manage_keys(who, tenant)
    return key_out(service.revoke_key(session, tenant.id, key_id))
