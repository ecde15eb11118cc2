"""Server-sent events of a session's counters, shared by the API and the console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request

from hutong.live.intake import SessionCounters
from hutong.live.schemas import CountersOut

HEARTBEAT_SECONDS = 15.0


async def counter_events(
    request: Request,
    counters: SessionCounters,
    session_id: str,
    interval_ms: int,
    limit: int | None,
) -> AsyncIterator[str]:
    """A ``counters`` event whenever the counters change (checked every ``interval_ms``), a
    comment line as a heartbeat otherwise; ends after ``limit`` events or when the client
    goes away. The event id is the number of events counted so far."""
    sent, last, quiet = 0, -1, 0.0
    while limit is None or sent < limit:
        if await request.is_disconnected():
            return
        if counters.applied != last:
            last = counters.applied
            snap = await asyncio.to_thread(counters.snapshot)
            body = CountersOut.model_validate(snap | {"session_id": session_id})
            yield f"id: {last}\nevent: counters\ndata: {body.model_dump_json()}\n\n"
            sent += 1
            quiet = 0.0
            continue
        await asyncio.sleep(interval_ms / 1000)
        quiet += interval_ms / 1000
        if quiet >= HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            quiet = 0.0


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
