"""The sandbox provider's other side (``hutong sandbox sandbox``): takes payments, lets the
buyer pay at ``/_emulator/pay/{out_trade_no}``, notifies with a short retry schedule, refunds
(settled when ``/_emulator/refunds/{no}/succeed`` is called, or at once with auto_refund) and
serves the daily statement with a 0.6 % fee."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response

from hutong.payments.emulators.base import (
    Delivery,
    EmuPayment,
    EmuRefund,
    Ledger,
    Notifier,
    control_router,
    emulator_app,
)
from hutong.payments.providers.sandbox import HEADER, sign, verify

SCHEDULE = [5.0, 30.0, 60.0, 300.0, 1800.0]  # seconds between attempts
FEE_RATE_BP = 60  # 0.6 %


def fee(amount_fen: int) -> int:
    """0.6 % rounded half up to the fen."""
    return (amount_fen * FEE_RATE_BP + 5_000) // 10_000


class SandboxEmulator:
    def __init__(
        self, merchants: dict[str, str], *, time_scale: float = 1.0, auto_refund: bool = True
    ) -> None:
        self.merchants = merchants  # merchant_id -> shared secret
        self.ledger = Ledger()
        self.notifier = Notifier(SCHEDULE, time_scale)
        self.auto_refund = auto_refund
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def _secret(self, merchant_id: str) -> str:
        secret = self.merchants.get(merchant_id)
        if secret is None:
            raise HTTPException(404, f"unknown merchant {merchant_id}")
        return secret

    async def _signed_json(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        data: dict[str, Any] = json.loads(body)
        try:
            verify(self._secret(str(data["merchant_id"])), body, request.headers[HEADER])
        except (KeyError, ValueError) as exc:
            raise HTTPException(401, "bad signature") from exc
        return data

    def _check_get(self, request: Request, merchant_id: str) -> None:
        try:
            verify(self._secret(merchant_id), request.url.path.encode(), request.headers[HEADER])
        except (KeyError, ValueError) as exc:
            raise HTTPException(401, "bad signature") from exc

    def _notify(self, merchant_id: str, url: str, event: dict[str, Any]) -> None:
        secret = self._secret(merchant_id)

        def build() -> tuple[dict[str, str], bytes]:
            body = json.dumps(event, separators=(",", ":")).encode()
            return {
                "Content-Type": "application/json",
                HEADER: sign(secret, body, int(time.time())),
            }, body

        self.notifier.send(Delivery(url, build, lambda r: r.status_code == 200, event["type"]))

    def notify_paid(self, p: EmuPayment) -> None:
        self._notify(
            p.merchant_key,
            p.notify_url,
            {
                "id": f"evt_{p.txn_id}_{p.state}",
                "type": f"payment.{p.state}",
                "merchant_id": p.merchant_key,
                "out_trade_no": p.out_trade_no,
                "amount_fen": p.amount_fen,
                "currency": "CNY",
                "txn_id": p.txn_id,
                "created": int(time.time()),
            },
        )

    def notify_refunded(self, r: EmuRefund) -> None:
        self._notify(
            r.merchant_key,
            r.notify_url,
            {
                "id": f"evt_{r.refund_id}_{r.state}",
                "type": f"refund.{r.state}",
                "merchant_id": r.merchant_key,
                "out_trade_no": r.out_trade_no,
                "out_refund_no": r.out_refund_no,
                "amount_fen": r.amount_fen,
                "currency": "CNY",
                "refund_id": r.refund_id,
                "created": int(time.time()),
            },
        )

    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/v1/payments")
        async def create(request: Request) -> dict[str, Any]:
            data = await self._signed_json(request)
            with ledger.lock:
                found = ledger.payments.get(data["out_trade_no"])
                if found is None:
                    found = EmuPayment(
                        merchant_key=str(data["merchant_id"]),
                        out_trade_no=data["out_trade_no"],
                        amount_fen=int(data["amount_fen"]),
                        subject=data["subject"],
                        notify_url=data["notify_url"],
                        txn_id="sbx_" + secrets.token_hex(8),
                    )
                    ledger.payments[found.out_trade_no] = found
            base = str(request.base_url).rstrip("/")
            return {"txn_id": found.txn_id, "pay_url": f"{base}/_emulator/pay/{found.out_trade_no}"}

        @router.get("/v1/payments/{out_trade_no}")
        def query(out_trade_no: str, merchant_id: str, request: Request) -> dict[str, Any]:
            self._check_get(request, merchant_id)
            p = ledger.payment(out_trade_no)
            return {"state": p.state, "amount_fen": p.amount_fen, "txn_id": p.txn_id}

        @router.post("/v1/refunds")
        async def refund(request: Request) -> dict[str, Any]:
            data = await self._signed_json(request)
            with ledger.lock:
                found = ledger.refunds.get(data["out_refund_no"])
                if found is None:
                    payment = ledger.payment(data["out_trade_no"])
                    amount = int(data["amount_fen"])
                    if (
                        payment.state != "succeeded"
                        or payment.refunded_fen + amount > payment.amount_fen
                    ):
                        raise HTTPException(409, "refund exceeds the payment")
                    payment.refunded_fen += amount
                    found = EmuRefund(
                        merchant_key=payment.merchant_key,
                        out_trade_no=payment.out_trade_no,
                        out_refund_no=data["out_refund_no"],
                        amount_fen=amount,
                        refund_id="sbr_" + secrets.token_hex(8),
                        notify_url=data["notify_url"],
                    )
                    ledger.refunds[found.out_refund_no] = found
                    if self.auto_refund:
                        found.state, found.succeeded_at = "succeeded", dt.datetime.now(dt.UTC)
            if self.auto_refund:
                self.notify_refunded(found)
            return {"refund_id": found.refund_id, "state": found.state}

        @router.get("/v1/refunds/{out_refund_no}")
        def query_refund(out_refund_no: str, merchant_id: str, request: Request) -> dict[str, Any]:
            self._check_get(request, merchant_id)
            found = ledger.refunds.get(out_refund_no)
            if found is None:
                raise HTTPException(404, "no such refund")
            return {"refund_id": found.refund_id, "state": found.state}

        @router.get("/v1/statements/{day}")
        def statement(day: dt.date, merchant_id: str, request: Request) -> Response:
            self._check_get(request, merchant_id)
            lines = []
            for kind, item in ledger.day_lines(merchant_id, day):
                is_refund = kind == "refund"
                lines.append(
                    {
                        "kind": kind,
                        "out_trade_no": item.out_trade_no,
                        "out_refund_no": item.out_refund_no if is_refund else "",
                        "txn_id": item.refund_id if is_refund else item.txn_id,
                        "amount_fen": item.amount_fen,
                        "fee_fen": -fee(item.amount_fen) if is_refund else fee(item.amount_fen),
                        "at": (item.succeeded_at if is_refund else item.paid_at).isoformat(),
                    }
                )
            return Response(json.dumps({"lines": lines}), media_type="application/json")

        control = control_router(ledger, self.notifier, self.notify_paid, self.notify_refunded)
        return emulator_app("hutong sandbox provider", router, control)
