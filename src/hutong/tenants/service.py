"""Creating tenants, issuing and checking API keys (shown once, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.errors import Conflict, InvalidInput, NotFound, Unauthorized
from hutong.ids import new_id
from hutong.store import utcnow
from hutong.tenants.models import ApiKey, Role, Tenant, TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.models import Platform  # a tenant of a platform names one of these

KEY_PREFIX = "htk"


def _hash_secret(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def create_tenant(
    session: Session,
    kind: TenantKind,
    name: str,
    *,
    parent_id: str | None = None,
    platform_id: str | None = None,
) -> Tenant:
    """Create a tenant; a merchant must sit under a shelf platform tenant."""
    if kind is TenantKind.MERCHANT:
        parent = session.get(Tenant, parent_id) if parent_id else None
        if parent is None or parent.kind != TenantKind.SHELF_PLATFORM:
            raise InvalidInput("a merchant needs parent_id naming a shelf_platform tenant")
    elif parent_id is not None:
        raise InvalidInput(f"a {kind.value} tenant has no parent")
    if kind in (TenantKind.CONTENT_PLATFORM, TenantKind.SHELF_PLATFORM) and platform_id is None:
        raise InvalidInput(f"a {kind.value} tenant needs platform_id")
    if platform_id is not None:
        if session.get(Platform, platform_id) is None:
            raise InvalidInput(f"platform_id {platform_id!r} names no platform (GET /v1/platforms)")
        taken = session.scalar(
            select(Tenant.id).where(Tenant.platform_id == platform_id, Tenant.kind == kind.value)
        )
        if taken:
            raise Conflict(f"platform {platform_id} already has a {kind.value} tenant")
    tenant = Tenant(
        id=new_id("tnt"), kind=kind.value, name=name, parent_id=parent_id, platform_id=platform_id
    )
    session.add(tenant)
    session.flush()
    return tenant


def issue_key(session: Session, tenant_id: str, role: Role, name: str = "") -> tuple[ApiKey, str]:
    """Make a key for ``tenant_id``; the plaintext is returned here once and never stored."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} not found")
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        role=role.value,
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(plaintext),
    )
    session.add(key)
    session.flush()
    return key, plaintext


def revoke_key(session: Session, tenant_id: str, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound(f"key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def authenticate(session: Session, plaintext: str) -> Principal:
    """The principal a key stands for; any malformed, unknown or revoked key is 401."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("malformed API key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or not hmac.compare_digest(key.secret_hash, _hash_secret(plaintext)):
        raise Unauthorized("unknown API key")
    if key.revoked_at is not None:
        raise Unauthorized("revoked API key")
    tenant = session.get(Tenant, key.tenant_id)
    assert tenant is not None
    return Principal(
        tenant_id=tenant.id,
        kind=TenantKind(tenant.kind),
        role=Role(key.role),
        platform_id=tenant.platform_id,
        parent_id=tenant.parent_id,
    )
