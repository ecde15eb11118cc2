"""Sending one conversion callback and keeping the platform's answer (the outbox calls this).

Delivery is at least once: a callback that got no answer is tried again on the outbox's
schedule, up to the platform's ``max_attempts``; the platforms dedup on the callback value
and event (Ocean Engine also on ``outer_event_id``). A platform's refusal (an unknown
callback, a bad field) is final and kept with its words.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session

from hutong.store import utcnow
from hutong.traffic.adplatforms.models import AdConversion
from hutong.traffic.adplatforms.registry import PLATFORMS
from hutong.traffic.adplatforms.service import KIND_PREFIX


@dataclass(frozen=True)
class Outcome:
    status: int | None
    accepted: bool
    retry: bool
    note: str
    max_attempts: int


def is_ad_conversion(kind: str) -> bool:
    return kind.startswith(KIND_PREFIX)


def attempt(client: httpx.Client, kind: str, url: str, body: str) -> Outcome:
    platform = PLATFORMS[kind.removeprefix(KIND_PREFIX)]
    try:
        if body:
            headers = {"Content-Type": "application/json"}
            response = client.post(url, content=body.encode(), headers=headers)
        else:
            response = client.get(url)
    except httpx.HTTPError as exc:
        answer = platform.judge(None, f"{type(exc).__name__}: {exc}")
        return Outcome(None, False, True, answer.note, platform.max_attempts)
    answer = platform.judge(response.status_code, response.text[:2000])
    note = f"HTTP {response.status_code} {response.text[:300]}"
    return Outcome(response.status_code, answer.accepted, answer.retry, note, platform.max_attempts)


def note_answer(
    session: Session, conversion_id: str | None, outcome: Outcome, attempts: int, final: bool
) -> None:
    """Keep the platform's last answer on the callback's row."""
    if conversion_id is None:
        return
    state = "accepted" if outcome.accepted else ("refused" if final else "retrying")
    if final and not outcome.accepted and outcome.retry:
        state = "failed"  # never answered within the attempts the platform asks for
    session.execute(
        update(AdConversion)
        .where(AdConversion.id == conversion_id)
        .values(state=state, attempts=attempts, answer=outcome.note, answered_at=utcnow())
    )
