"""FastAPI dependencies: the runtime, a session per request, and the authenticated principal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
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


# A request's transaction hops between threads: the principal is resolved on one thread of the
# request pool, the handler runs on another, the commit on a third. If every pool thread were
# blocked waiting for the database (a flash sale: a thousand requests at once), the request
# holding the database could never get a thread to go on: a deadlock until the pool timeout.
# So a request waits for a session slot in the event loop, holding no thread, and only as many
# requests as the store can serve (``Store.max_sessions``, far below the pool's 40 threads)
# hold a session at once; commits run on their own executor.
_ENDINGS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="commit")
_SLOTS: dict[int, asyncio.Semaphore] = {}


def _slots(runtime: Runtime) -> asyncio.Semaphore:
    slots = _SLOTS.get(id(runtime.store))
    if slots is None:
        slots = _SLOTS.setdefault(id(runtime.store), asyncio.Semaphore(runtime.store.max_sessions))
    return slots


async def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"``: the commit happens before the response is sent, so an
    acknowledged write is a committed one (the default scope commits after sending). The
    handler uses the session on its worker thread; the commit runs on ``_ENDINGS``.
    """
    loop = asyncio.get_running_loop()
    async with _slots(runtime):
        session = runtime.store.sessions()
        session.begin()
        try:
            yield session
        except BaseException:
            await loop.run_in_executor(_ENDINGS, _end, session, False)
            raise
        await loop.run_in_executor(_ENDINGS, _end, session, True)


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


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


def get_principal_unbound(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The principal, authenticated in a session of its own that is closed at once: for
    routes that call a provider and manage their own transactions around the call."""
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    with runtime.store.reading() as session:
        return authenticate(session, key)


UnboundPrincipalDep = Annotated[Principal, Depends(get_principal_unbound)]
