"""What every payment provider emulator shares: its ledger of payments and refunds (the notifier
and the app come from ``hutong.emulation``, shared with the carriers' emulators).

Each emulator (``emulators/<provider>.py``) adds the provider's wire format: its routes, its
signatures, its notification bodies. Control routes under ``/_emulator`` let a test or the
demo act as the buyer (pay, close) and look inside (state, deliveries).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException

from hutong.emulation import Delivery, Notifier, emulator_app

__all__ = [
    "Delivery",
    "EmuPayment",
    "EmuRefund",
    "Ledger",
    "Notifier",
    "control_router",
    "emulator_app",
]
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
