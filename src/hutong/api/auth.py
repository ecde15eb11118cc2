"""FastAPI dependencies: the runtime, a session per request, and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hutong.errors import Unauthorized
from hutong.runtime import Runtime
from hutong.tenants.principal import Principal
from hutong.tenants.service import authenticate

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"``: the commit happens before the response is sent, so an
    acknowledged write is a committed one (the default scope commits after sending).
    """
    with runtime.store.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_header)],
) -> Principal:
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    return authenticate(session, key)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
