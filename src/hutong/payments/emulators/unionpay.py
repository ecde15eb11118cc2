"""UnionPay ACP's side, offline (``hutong sandbox unionpay``).

Verifies each merchant request with the certificate its ``certId`` names, answers form-encoded
and signed with the emulator's UnionPay signing certificate (issued by the emulator's root,
which the merchant configures as ``root_cert``). The buyer pays at ``/_emulator/pay/{orderId}``
(the ``qrCode``); consume and refund results are notified to ``backUrl`` until it answers 200.
A query must name the original ``txnTime``, as ACP requires.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import Omission, omission_router
from hutong.payments import crypto
from hutong.payments.emulators.base import (
    Delivery,
    EmuPayment,
    EmuRefund,
    Ledger,
    Notifier,
    control_router,
    emulator_app,
)
from hutong.payments.providers.unionpay import (
    BACK_TRANS,
    FILE_TRANS,
    QUERY_TRANS,
    RETRY_SCHEDULE,
    VERSION,
    cert_id,
    sign,
    sign_content,
    txn_time,
)

FEE_RATE_BP = 60


@dataclass
class UnionPayKeys:
    """The emulator's root certificate and signing key, and a merchant's, made fresh."""

    root_cert: str
    signer_key: str
    signer_cert: str
    merchant_key: str = ""
    merchant_cert: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> UnionPayKeys:
        root, signer, merchant = crypto.new_rsa_key(), crypto.new_rsa_key(), crypto.new_rsa_key()
        root_cert = crypto.issue_cert(
            "hutong UnionPay test root", root, "hutong UnionPay test root", root, serial=1, ca=True
        )
        signer_cert = crypto.issue_cert(
            "中国银联股份有限公司 (emulated)",
            signer,
            "hutong UnionPay test root",
            root,
            serial=69_001,
        )
        merchant_cert = crypto.issue_cert(
            "merchant", merchant, "hutong UnionPay test root", root, serial=secrets.randbits(40)
        )
        return cls(
            root_cert,
            crypto.private_pem(signer),
            signer_cert,
            crypto.private_pem(merchant),
            merchant_cert,
        )


class UnionPayEmulator:
    def __init__(
        self, merchants: dict[str, str], keys: UnionPayKeys, *, time_scale: float = 1.0
    ) -> None:
        self.merchant_certs = merchants  # merId -> merchant signing certificate (PEM)
        self.keys = keys
        self.ledger = Ledger()
        self.notifier = Notifier(RETRY_SCHEDULE, time_scale)
        self.txn_times: dict[str, str] = {}  # orderId -> txnTime it was sent with
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def signed(self, fields: dict[str, str]) -> dict[str, str]:
        fields = {**self.omission.apply(fields), "signPubKeyCert": self.keys.signer_cert}
        return sign(fields, self.keys.signer_key)

    def _answer(self, fields: dict[str, str]) -> Response:
        return Response(urlencode(self.signed(fields)), media_type="text/plain;charset=UTF-8")

    def _verify(self, fields: dict[str, str]) -> bool:
        cert = self.merchant_certs.get(fields.get("merId", ""))
        if cert is None or cert_id(cert) != fields.get("certId"):
            return False
        public = crypto.load_public(cert)
        return crypto.rsa_verify(public, sign_content(fields), fields.get("signature", ""))

    def _common(self, req: dict[str, str], resp_code: str, msg: str) -> dict[str, str]:
        return {
            "version": VERSION,
            "encoding": "UTF-8",
            "signMethod": "01",
            "txnType": req.get("txnType", ""),
            "txnSubType": req.get("txnSubType", ""),
            "bizType": req.get("bizType", ""),
            "accessType": "0",
            "merId": req.get("merId", ""),
            "orderId": req.get("orderId", ""),
            "txnTime": req.get("txnTime", ""),
            "respCode": resp_code,
            "respMsg": msg,
        }

    def notice_fields(self, payment: EmuPayment) -> dict[str, str]:
        return self.signed(
            {
                "version": VERSION,
                "encoding": "UTF-8",
                "signMethod": "01",
                "txnType": "01",
                "txnSubType": "07",
                "bizType": "000000",
                "accessType": "0",
                "merId": payment.merchant_key,
                "orderId": payment.out_trade_no,
                "txnTime": self.txn_times.get(payment.out_trade_no, ""),
                "txnAmt": str(payment.amount_fen),
                "currencyCode": "156",
                "queryId": payment.txn_id,
                "respCode": "00",
                "respMsg": "成功[0000000]",
                "settleAmt": str(payment.amount_fen),
                "settleCurrencyCode": "156",
                "settleDate": dt.datetime.now(dt.UTC).strftime("%m%d"),
                "traceNo": payment.txn_id[-6:],
                "traceTime": dt.datetime.now(dt.UTC).strftime("%m%d%H%M%S"),
            }
        )

    def notify_paid(self, payment: EmuPayment) -> None:
        self.notifier.send(
            Delivery(
                payment.notify_url,
                lambda: (
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    urlencode(self.notice_fields(payment)).encode(),
                ),
                lambda r: r.status_code == 200,
                f"unionpay consume {payment.out_trade_no}",
            )
        )

    def notify_refunded(self, refund: EmuRefund) -> None:
        def build() -> tuple[dict[str, str], bytes]:
            fields = self.signed(
                {
                    "version": VERSION,
                    "encoding": "UTF-8",
                    "signMethod": "01",
                    "txnType": "04",
                    "txnSubType": "00",
                    "bizType": "000000",
                    "accessType": "0",
                    "merId": refund.merchant_key,
                    "orderId": refund.out_refund_no,
                    "origOrderId": refund.out_trade_no,
                    "txnTime": self.txn_times.get(refund.out_refund_no, ""),
                    "txnAmt": str(refund.amount_fen),
                    "currencyCode": "156",
                    "queryId": refund.refund_id,
                    "respCode": "00",
                    "respMsg": "成功[0000000]",
                }
            )
            return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()

        self.notifier.send(
            Delivery(
                refund.notify_url,
                build,
                lambda r: r.status_code == 200,
                f"unionpay refund {refund.out_refund_no}",
            )
        )

    def _consume(self, req: dict[str, str], base: str) -> dict[str, str]:
        order_id = req["orderId"]
        with self.ledger.lock:
            if order_id not in self.ledger.payments:
                self.ledger.payments[order_id] = EmuPayment(
                    merchant_key=req["merId"],
                    out_trade_no=order_id,
                    amount_fen=int(req["txnAmt"]),
                    subject="",
                    notify_url=req.get("backUrl", ""),
                    txn_id=dt.datetime.now(dt.UTC).strftime("%m%d%H%M%S") + secrets.token_hex(5),
                )
                self.txn_times[order_id] = req["txnTime"]
        return {
            **self._common(req, "00", "成功[0000000]"),
            "qrCode": f"{base}/_emulator/pay/{order_id}",
        }

    def _query(self, req: dict[str, str]) -> dict[str, str]:
        order_id = req["orderId"]
        if self.txn_times.get(order_id) != req.get("txnTime"):
            return self._common(req, "34", "查无此交易[2600000]")
        payment = self.ledger.payments.get(order_id)
        if payment is not None:
            orig = {"succeeded": "00", "pending": "05"}.get(payment.state, "01")
            return {
                **self._common(req, "00", "成功[0000000]"),
                "origRespCode": orig,
                "txnAmt": str(payment.amount_fen),
                "queryId": payment.txn_id,
            }
        refund = self.ledger.refunds.get(order_id)
        if refund is not None:
            orig = "00" if refund.state == "succeeded" else "05"
            return {
                **self._common(req, "00", "成功[0000000]"),
                "origRespCode": orig,
                "txnAmt": str(refund.amount_fen),
                "queryId": refund.refund_id,
            }
        return self._common(req, "34", "查无此交易[2600000]")

    def _refund(self, req: dict[str, str]) -> dict[str, str]:
        order_id, amount = req["orderId"], int(req["txnAmt"])
        with self.ledger.lock:
            if order_id in self.ledger.refunds:
                return self._common(req, "00", "成功[0000000]")
            payment = next(
                (p for p in self.ledger.payments.values() if p.txn_id == req.get("origQryId")), None
            )
            if (
                payment is None
                or payment.state != "succeeded"
                or payment.refunded_fen + amount > payment.amount_fen
            ):
                return self._common(req, "12", "重复交易或金额超限[2000000]")
            payment.refunded_fen += amount
            refund = EmuRefund(
                merchant_key=req["merId"],
                out_trade_no=payment.out_trade_no,
                out_refund_no=order_id,
                amount_fen=amount,
                refund_id=dt.datetime.now(dt.UTC).strftime("%m%d%H%M%S") + secrets.token_hex(5),
                notify_url=req.get("backUrl", ""),
                state="succeeded",
                succeeded_at=dt.datetime.now(dt.UTC),
            )
            self.ledger.refunds[order_id] = refund
            self.txn_times[order_id] = req["txnTime"]
        self.notify_refunded(refund)
        return self._common(req, "00", "成功[0000000]")

    def _file(self, req: dict[str, str]) -> dict[str, str]:
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
        day = dt.date(now.year, int(req["settleDate"][:2]), int(req["settleDate"][2:]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["orderId", "origOrderId", "queryId", "txnType", "txnAmt", "fee", "txnTime"]
        )
        for kind, item in self.ledger.day_lines(req["merId"], day):
            fee = (item.amount_fen * FEE_RATE_BP + 5_000) // 10_000
            if kind == "payment":
                writer.writerow(
                    [
                        item.out_trade_no,
                        "",
                        item.txn_id,
                        "01",
                        item.amount_fen,
                        fee,
                        txn_time(item.paid_at),
                    ]
                )
            else:
                writer.writerow(
                    [
                        item.out_refund_no,
                        item.out_trade_no,
                        item.refund_id,
                        "04",
                        item.amount_fen,
                        -fee,
                        txn_time(item.succeeded_at),
                    ]
                )
        content = base64.b64encode(out.getvalue().encode()).decode()
        return {
            **self._common(req, "00", "成功[0000000]"),
            "fileContent": content,
            "fileName": f"INN{req['settleDate']}.csv",
        }

    def _build(self) -> FastAPI:
        router = APIRouter()

        async def read(request: Request) -> dict[str, str] | None:
            fields = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
            return fields if self._verify(fields) else None

        def refused(fields: dict[str, Any] | None) -> Response:
            return self._answer(
                {
                    "respCode": "11",
                    "respMsg": "验证签名失败[9100004]",
                    "merId": (fields or {}).get("merId", ""),
                }
            )

        @router.post(BACK_TRANS)
        async def back(request: Request) -> Response:
            req = await read(request)
            if req is None:
                return refused(req)
            base = str(request.base_url).rstrip("/")
            return self._answer(
                self._refund(req) if req.get("txnType") == "04" else self._consume(req, base)
            )

        @router.post(QUERY_TRANS)
        async def query(request: Request) -> Response:
            req = await read(request)
            return refused(req) if req is None else self._answer(self._query(req))

        @router.post(FILE_TRANS)
        async def files(request: Request) -> Response:
            req = await read(request)
            return refused(req) if req is None else self._answer(self._file(req))

        control = control_router(self.ledger, self.notifier, self.notify_paid, self.notify_refunded)
        return emulator_app(
            "UnionPay ACP emulator (hutong)", router, control, omission_router(self.omission)
        )
