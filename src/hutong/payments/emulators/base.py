"""What every provider emulator shares: its ledger of payments and refunds, and a notifier that
sends signed notifications on the provider's own retry schedule until the merchant answers as
the provider expects.

Each emulator (``emulators/<provider>.py``) adds the provider's wire format: its routes, its
signatures, its notification bodies. Control routes under ``/_emulator`` let a test or the
demo act as the buyer (pay, close) and look inside (state, deliveries).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, HTTPException

log = logging.getLogger("hutong.emulator")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class EmuPayment:
    merchant_key: str
    out_trade_no: str
    amount_fen: int
    subject: str
    notify_url: str
    txn_id: str
    state: str = "pending"  # pending | succeeded | closed
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    paid_at: dt.datetime | None = None
    refunded_fen: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class EmuRefund:
    merchant_key: str
    out_trade_no: str
    out_refund_no: str
    amount_fen: int
    refund_id: str
    notify_url: str
    state: str = "processing"  # processing | succeeded
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    succeeded_at: dt.datetime | None = None


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


class Ledger:
    """The emulated provider's books."""

    def __init__(self) -> None:
        self.payments: dict[str, EmuPayment] = {}
        self.refunds: dict[str, EmuRefund] = {}
        self.lock = threading.Lock()

    def payment(self, out_trade_no: str) -> EmuPayment:
        found = self.payments.get(out_trade_no)
        if found is None:
            raise HTTPException(404, f"no payment {out_trade_no}")
        return found

    def pay(self, out_trade_no: str) -> EmuPayment:
        with self.lock:
            payment = self.payment(out_trade_no)
            if payment.state == "pending":
                payment.state = "succeeded"
                payment.paid_at = dt.datetime.now(dt.UTC)
            return payment

    def day_lines(self, merchant_key: str, day: dt.date) -> list[tuple[str, Any]]:
        """("payment", EmuPayment) and ("refund", EmuRefund) settled on ``day`` (Shanghai)."""
        lines: list[tuple[str, Any]] = []
        for p in self.payments.values():
            if p.merchant_key == merchant_key and p.paid_at and _day(p.paid_at) == day:
                lines.append(("payment", p))
        for r in self.refunds.values():
            if r.merchant_key == merchant_key and r.succeeded_at and _day(r.succeeded_at) == day:
                lines.append(("refund", r))
        return lines


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def control_router(
    ledger: Ledger,
    notifier: Notifier,
    notify_paid: Callable[[EmuPayment], None],
    notify_refunded: Callable[[EmuRefund], None],
) -> APIRouter:
    """``/_emulator``: the buyer's actions and a look inside, for tests and the demo."""
    router = APIRouter(prefix="/_emulator", tags=["emulator"])

    @router.post("/pay/{out_trade_no}")
    def pay(out_trade_no: str) -> dict[str, str]:
        payment = ledger.pay(out_trade_no)
        notify_paid(payment)
        return {"out_trade_no": out_trade_no, "state": payment.state}

    @router.post("/close/{out_trade_no}")
    def close(out_trade_no: str) -> dict[str, str]:
        with ledger.lock:
            payment = ledger.payment(out_trade_no)
            if payment.state == "pending":
                payment.state = "closed"
        return {"out_trade_no": out_trade_no, "state": payment.state}

    @router.post("/renotify/{out_trade_no}")
    def renotify(out_trade_no: str) -> dict[str, str]:
        """Send the payment's notification again (a provider retry that crossed our ack)."""
        payment = ledger.payment(out_trade_no)
        notify_paid(payment)
        return {"out_trade_no": out_trade_no}

    @router.post("/refunds/{out_refund_no}/succeed")
    def refund_succeeds(out_refund_no: str) -> dict[str, str]:
        with ledger.lock:
            refund = ledger.refunds.get(out_refund_no)
            if refund is None:
                raise HTTPException(404, f"no refund {out_refund_no}")
            if refund.state != "succeeded":
                refund.state = "succeeded"
                refund.succeeded_at = dt.datetime.now(dt.UTC)
        notify_refunded(refund)
        return {"out_refund_no": out_refund_no, "state": refund.state}

    @router.get("/state")
    def state() -> dict[str, Any]:
        return {
            "payments": {k: _plain(v) for k, v in ledger.payments.items()},
            "refunds": {k: _plain(v) for k, v in ledger.refunds.items()},
            "deliveries": [
                {"label": d.label, "attempts": d.attempts, "done": d.done}
                for d in notifier.deliveries
            ],
        }

    return router


def _plain(obj: EmuPayment | EmuRefund) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in vars(obj).items()}


def emulator_app(title: str, *routers: APIRouter) -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    for router in routers:
        app.include_router(router)
    return app
