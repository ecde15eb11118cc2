"""``Idempotency-Key`` on creates: a retried request gets the first answer, never a second object.

The key's row is inserted (under a savepoint) before the work, in the same transaction: a
concurrent request with the same key waits on the unique key, then replays the committed
answer. The same key with a different body is a 422, as Stripe answers it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.api.models import IdempotencyRecord
from hutong.errors import InvalidInput
from hutong.tenants.principal import Principal

# the header every create accepts: a retried request gets the first answer, never a second object
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class IdempotencyMismatch(InvalidInput):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with another request"


def _fingerprint(route: str, body: BaseModel | dict[str, Any]) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    raw = json.dumps([route, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.request_hash != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
    return JSONResponse(
        json.loads(record.body),
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


def run_once(
    session: Session,
    who: Principal,
    key: str | None,
    route: str,
    body: BaseModel | dict[str, Any],
    work: Callable[[], tuple[int, BaseModel]],
) -> JSONResponse:
    """Run ``work`` unless ``key`` already has an answer; store and return its answer."""
    if key is None:
        status, out = work()
        return JSONResponse(out.model_dump(mode="json"), status_code=status)
    if len(key) > 120 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1-120 printable characters")
    fingerprint = _fingerprint(route, body)
    record = session.get(IdempotencyRecord, (who.tenant_id, key))
    if record is not None:
        return _replay(record, fingerprint)
    record = IdempotencyRecord(
        tenant_id=who.tenant_id, key=key, request_hash=fingerprint, status_code=0, body="null"
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        committed = session.get(IdempotencyRecord, (who.tenant_id, key), populate_existing=True)
        assert committed is not None
        return _replay(committed, fingerprint)
    status, out = work()
    payload = out.model_dump(mode="json")
    record.status_code = status
    record.body = json.dumps(payload, separators=(",", ":"))
    session.flush()
    return JSONResponse(payload, status_code=status)
