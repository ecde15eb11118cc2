"""Delivering the outbox: claim due messages safely across workers, send, record the answer.

Claiming pushes ``next_attempt_at`` forward by a lease inside a short transaction (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serialises claimers), so the network
call happens with no lock held and a worker that dies mid-send only delays the message by the
lease. Receivers dedupe on ``Idempotency-Key``: delivery is at least once, applied once.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hutong.store import Store, is_postgres, utcnow
from hutong.traffic.adplatforms import delivery as ad_delivery
from hutong.traffic.postbacks import SIGNATURE_HEADER, sign, signing_key
from hutong.worker.models import OutboxMessage, OutboxStatus

log = logging.getLogger("hutong.worker.outbox")

LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 16  # backoff 5 s doubling to a 1 h cap: about 12 hours of tries
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Claimed:
    id: str
    kind: str
    url: str
    body: str
    idempotency_key: str
    endpoint_id: str | None
    attempts: int


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s ... capped at one hour, with ±20 % jitter so retries do not stampede."""
    base = min(5 * 2 ** max(attempts - 1, 0), 3600)
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def claim(store: Store, limit: int = 50) -> list[Claimed]:
    now = utcnow()
    with store.transaction() as session:
        due = (
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING.value)
            .where(OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
        if is_postgres(store.engine):
            due = due.with_for_update(skip_locked=True)
        rows = list(session.scalars(due))
        for row in rows:
            row.next_attempt_at = now + LEASE
        return [
            Claimed(r.id, r.kind, r.url, r.body, r.idempotency_key, r.endpoint_id, r.attempts)
            for r in rows
        ]


def _send(client: httpx.Client, store: Store, msg: Claimed) -> tuple[int | None, str]:
    with store.reading() as session:
        key = signing_key(session, msg.endpoint_id)
    body = msg.body.encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": msg.idempotency_key}
    if key is not None:
        headers[SIGNATURE_HEADER] = sign(body, key[0], key[1], int(time.time()))
    try:
        response = client.post(msg.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, "" if response.is_success else response.text[:500]


def _record(store: Store, msg: Claimed, status: int | None, error: str) -> None:
    ok = status is not None and 200 <= status < 300
    never = status is not None and status in (400, 404, 410, 422)  # it will never accept it
    _settle(store, msg, status, error, ok, never, MAX_ATTEMPTS)


def _settle(
    store: Store,
    msg: Claimed,
    status: int | None,
    error: str,
    ok: bool,
    never: bool,
    max_attempts: int,
    also: Callable[[Session, bool], None] | None = None,
) -> bool:
    """Record one attempt; whether the message is finished (delivered or dead). ``also``
    records more in the same transaction (told whether the message is finished)."""
    attempts = msg.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "last_status": status, "last_error": error}
    final = ok or never or attempts >= max_attempts
    if ok:
        values |= {"status": OutboxStatus.DELIVERED.value, "delivered_at": utcnow()}
    elif final:
        values["status"] = OutboxStatus.DEAD.value
    else:
        values["next_attempt_at"] = utcnow() + backoff(attempts)
    with store.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == msg.id).values(**values))
        if also is not None:
            also(session, final)
    return final


def _deliver_ad_conversion(store: Store, client: httpx.Client, msg: Claimed) -> None:
    """A conversion callback in the ad platform's own protocol, judged by its own answer."""
    outcome = ad_delivery.attempt(client, msg.kind, msg.url, msg.body)
    error = "" if outcome.accepted else outcome.note
    if error:
        log.warning("ad conversion %s (%s) not accepted: %s", msg.id, msg.kind, error[:120])
    _settle(
        store,
        msg,
        outcome.status,
        error,
        outcome.accepted,
        not outcome.retry,
        min(outcome.max_attempts, MAX_ATTEMPTS),
        # the callback's row and the outbox's move together: a crash cannot leave them apart
        lambda session, final: ad_delivery.note_answer(
            session, msg.endpoint_id, outcome, msg.attempts + 1, final
        ),
    )


def deliver_due(store: Store, client: httpx.Client, limit: int = 50) -> int:
    """Send every due message once; returns how many were attempted."""
    batch = claim(store, limit)
    for msg in batch:
        if ad_delivery.is_ad_conversion(msg.kind):
            _deliver_ad_conversion(store, client, msg)
            continue
        status, error = _send(client, store, msg)
        if error:
            log.warning(
                "postback %s to endpoint %s failed: %s %s",
                msg.id,
                msg.endpoint_id,
                status,
                error[:120],
            )
        _record(store, msg, status, error)
    return len(batch)
