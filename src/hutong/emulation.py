"""What every emulator shares, payment provider or carrier: a notifier that sends signed
messages on the other side's own retry schedule until the receiver answers as expected, the
omission fault (a field left out of what it signs), and the app every emulator is served as."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

log = logging.getLogger("hutong.emulator")
T = TypeVar("T")


@dataclass
class Delivery:
    """One notification and its attempts (what the merchant answered each time)."""

    url: str
    build: Callable[[], tuple[dict[str, str], bytes]]  # fresh headers/body per attempt
    accepted: Callable[[httpx.Response], bool]
    label: str
    attempts: list[int | str] = field(default_factory=list)
    done: bool = False


class Notifier:
    """Sends deliveries on a schedule (seconds between attempts, scaled by ``time_scale``)."""

    def __init__(self, schedule: list[float], time_scale: float = 1.0) -> None:
        self.schedule = schedule
        self.time_scale = time_scale
        self.deliveries: list[Delivery] = []
        self._queue: list[tuple[float, int, Delivery, int]] = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._client = httpx.Client(timeout=5.0)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="emulator-notifier", daemon=True)
        self._thread.start()

    def send(self, delivery: Delivery, delay: float = 0.0) -> Delivery:
        with self._cv:
            self.deliveries.append(delivery)
            self._push(delivery, 0, delay)
        return delivery

    def _push(self, delivery: Delivery, attempt: int, delay: float) -> None:
        heapq.heappush(
            self._queue, (time.monotonic() + delay, next(self._counter), delivery, attempt)
        )
        self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cv.wait(timeout)
                if self._stop:
                    return
                _, _, delivery, attempt = heapq.heappop(self._queue)
            self._attempt(delivery, attempt)

    def _attempt(self, delivery: Delivery, attempt: int) -> None:
        headers, body = delivery.build()
        try:
            answer = self._client.post(delivery.url, content=body, headers=headers)
            delivery.attempts.append(answer.status_code)
            ok = delivery.accepted(answer)
        except httpx.HTTPError as exc:
            delivery.attempts.append(type(exc).__name__)
            ok = False
        if ok:
            delivery.done = True
            return
        if attempt < len(self.schedule):
            with self._cv:
                self._push(delivery, attempt + 1, self.schedule[attempt] * self.time_scale)
        else:
            log.warning("%s: gave up after %d attempts", delivery.label, attempt + 1)

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5)
        self._client.close()


@dataclass
class Omission:
    """A fault switched on by a test or by hand: the emulator leaves the field at ``path`` out
    of every answer and message it sends, and signs what it sends as usual (the provider
    speaking, incompletely). ``seen`` gathers every field it sent, so a test can walk them all.
    Paths are dotted; ``*`` stands for every element of a list (``result.*.scanDate``)."""

    path: str = ""
    seen: set[str] = field(default_factory=set)

    def apply(self, body: T) -> T:
        self.seen.update(field_paths(body))
        return cast(T, without(body, self.path)) if self.path else body


def field_paths(body: Any, prefix: str = "") -> list[str]:
    """Every field's dotted path in ``body``: nested objects, and list elements as ``*``."""
    if isinstance(body, list):
        return [p for item in body for p in field_paths(item, f"{prefix}*.")]
    found = []
    for key, value in body.items() if isinstance(body, dict) else ():
        found.append(prefix + key)
        found += field_paths(value, f"{prefix}{key}.")
    return sorted(set(found))


def without(body: Any, path: str) -> Any:
    """A copy of ``body`` less the field at ``path`` (unchanged where there is none)."""
    head, _, rest = path.partition(".")
    if head == "*" and isinstance(body, list):
        return [without(item, rest) for item in body]
    if not isinstance(body, dict) or head not in body:
        return body
    if not rest:
        return {k: v for k, v in body.items() if k != head}
    return {**body, head: without(body[head], rest)}


class OmitRequest(BaseModel):
    field: str = ""  # empty: send everything again


def omission_router(omission: Omission) -> APIRouter:
    """``POST /_emulator/omit``: which field to leave out from now on; answers what was sent."""
    router = APIRouter(prefix="/_emulator")

    @router.post("/omit")
    def omit(request: OmitRequest) -> dict[str, object]:
        omission.path = request.field
        return {"field": omission.path, "seen": sorted(omission.seen)}

    return router


def emulator_app(title: str, *routers: APIRouter) -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    for router in routers:
        app.include_router(router)
    return app
