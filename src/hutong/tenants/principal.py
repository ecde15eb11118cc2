"""The authenticated caller and the visibility rules every query applies (docs/visibility.md)."""

from __future__ import annotations

from dataclasses import dataclass

from hutong.errors import Forbidden
from hutong.tenants.models import Role, TenantKind


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    kind: TenantKind
    role: Role
    platform_id: str | None = None
    parent_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.kind is TenantKind.OPERATOR

    def require_admin(self) -> None:
        """Writes need the admin role inside the tenant."""
        if self.role is not Role.ADMIN:
            raise Forbidden(f"role {self.role.value!r} may only read; this action needs 'admin'")

    def require_kind(self, *kinds: TenantKind) -> None:
        if self.is_operator:
            return
        if self.kind not in kinds:
            allowed = ", ".join(k.value for k in kinds)
            raise Forbidden(f"a {self.kind.value} tenant cannot do this (allowed: {allowed})")
