"""Request and response bodies of the tenant API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from hutong.tenants.models import Role, TenantKind


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TenantKind
    name: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    parent_id: StrictStr | None = None
    platform_id: StrictStr | None = None


class TenantOut(BaseModel):
    id: str
    kind: str
    name: str
    parent_id: str | None
    platform_id: str | None
    created_at: dt.datetime


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: Annotated[StrictStr, Field(max_length=120)] = ""


class KeyOut(BaseModel):
    id: str
    tenant_id: str
    role: str
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    key: str | None = Field(default=None, description="the secret, shown only when created")


class MeOut(BaseModel):
    tenant: TenantOut
    role: str
