"""Alipay's side of the protocol, offline (``hutong sandbox alipay``).

``/gateway.do`` takes GET (as python-alipay-sdk sends) or form POST (as hutong's adapter and
Alipay's official SDK send), verifies the app's RSA2 signature with the app's public key, and
answers in Alipay's envelope signed with the emulator's "Alipay" key. The buyer pays at
``/_emulator/pay/{out_trade_no}`` (the precreate ``qr_code`` points there, where the real one
is a ``qr.alipay.com`` link); the notification is form-POSTed, signed over the sorted fields
without ``sign`` and ``sign_type``, and re-sent on Alipay's schedule until the answer is
exactly ``success``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

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
from hutong.payments.providers.alipay import RETRY_SCHEDULE, fen, local_time, sign_content, yuan

FEE_RATE_BP = 60  # 0.6 %, Alipay's standard rate for QR payments


@dataclass(frozen=True)
class AlipayApp:
    app_id: str
    app_public_key: str  # PEM: verifies the app's requests
    seller_id: str = "2088000000000001"


class AlipayEmulator:
    def __init__(
        self, apps: list[AlipayApp], alipay_private_key: str, *, time_scale: float = 1.0
    ) -> None:
        self.apps = {a.app_id: a for a in apps}
        self.key = crypto.load_private(alipay_private_key)
        self.ledger = Ledger()
        self.notifier = Notifier(RETRY_SCHEDULE, time_scale)
        self.base_url = ""
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    # -- signing -------------------------------------------------------------------------
    def envelope(self, method: str, body: Mapping[str, Any]) -> str:
        """Alipay's answer: the ``_response`` object and a signature over its exact text."""
        inner = json.dumps(
            self.omission.apply(dict(body)), separators=(",", ":"), ensure_ascii=False
        )
        sign = crypto.rsa_sign(self.key, inner.encode())
        return f'{{"{method.replace(".", "_")}_response":{inner},"sign":"{sign}"}}'

    def _verify_request(self, params: dict[str, str]) -> AlipayApp:
        app = self.apps.get(params.get("app_id", ""))
        if app is None:
            raise HTTPException(400, "isv.invalid-app-id")
        public = crypto.load_public(app.app_public_key)
        if not crypto.rsa_verify(public, sign_content(params).encode(), params.get("sign", "")):
            raise HTTPException(400, "isv.invalid-signature")
        return app

    def notification(self, payment: EmuPayment, notify_id: str) -> dict[str, str]:
        """The fields of one trade_status_sync, signed (``notify_time`` is the send time)."""
        app = self.apps[payment.merchant_key]
        status = {"succeeded": "TRADE_SUCCESS", "closed": "TRADE_CLOSED"}.get(
            payment.state, "WAIT_BUYER_PAY"
        )
        params = {
            "notify_time": local_time(dt.datetime.now(dt.UTC)),
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "app_id": app.app_id,
            "auth_app_id": app.app_id,
            "trade_no": payment.txn_id,
            "out_trade_no": payment.out_trade_no,
            "trade_status": status,
            "total_amount": yuan(payment.amount_fen),
            "receipt_amount": yuan(payment.amount_fen),
            "invoice_amount": yuan(payment.amount_fen),
            "buyer_pay_amount": yuan(payment.amount_fen),
            "point_amount": "0.00",
            "subject": payment.subject,
            "seller_id": app.seller_id,
            "buyer_id": "2088102177846880",
            "buyer_logon_id": "hut***@sandbox.example",
            "gmt_create": local_time(payment.created_at),
            "fund_bill_list": json.dumps(
                [{"amount": yuan(payment.amount_fen), "fundChannel": "ALIPAYACCOUNT"}],
                separators=(",", ":"),
            ),
        }
        if payment.paid_at is not None:
            params["gmt_payment"] = local_time(payment.paid_at)
        params = self.omission.apply(params)
        params["sign"] = crypto.rsa_sign(
            self.key, sign_content(params, exclude=("sign", "sign_type")).encode()
        )
        return params

    def notify_paid(self, payment: EmuPayment) -> None:
        notify_id = payment.extra.setdefault("notify_id", secrets.token_hex(16))

        def build() -> tuple[dict[str, str], bytes]:
            from urllib.parse import urlencode

            body = urlencode(self.notification(payment, notify_id)).encode()
            return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body

        self.notifier.send(
            Delivery(
                payment.notify_url,
                build,
                lambda r: r.status_code == 200 and r.content == b"success",
                f"alipay trade_status_sync {payment.out_trade_no}",
            )
        )

    def notify_refunded(self, refund: EmuRefund) -> None:
        """Refunds are synchronous at Alipay; no refund notification is sent."""

    # -- methods -------------------------------------------------------------------------------
    def _precreate(
        self, app: AlipayApp, params: dict[str, str], biz: dict[str, Any]
    ) -> dict[str, Any]:
        out_trade_no = str(biz["out_trade_no"])
        with self.ledger.lock:
            payment = self.ledger.payments.get(out_trade_no)
            if payment is None:
                payment = EmuPayment(
                    merchant_key=app.app_id,
                    out_trade_no=out_trade_no,
                    amount_fen=fen(str(biz["total_amount"])),
                    subject=str(biz.get("subject", "")),
                    notify_url=params.get("notify_url", ""),
                    txn_id=dt.datetime.now(dt.UTC).strftime("%Y%m%d") + secrets.token_hex(10)[:20],
                )
                self.ledger.payments[out_trade_no] = payment
            elif payment.state != "pending":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_SUCCESS",
                    "sub_msg": "交易已被支付",
                }
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": out_trade_no,
            "qr_code": f"{self.base_url}/_emulator/pay/{out_trade_no}",
        }

    def _query(self, biz: dict[str, Any]) -> dict[str, Any]:
        payment = self.ledger.payments.get(str(biz.get("out_trade_no", "")))
        if payment is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        status = {"succeeded": "TRADE_SUCCESS", "closed": "TRADE_CLOSED"}.get(
            payment.state, "WAIT_BUYER_PAY"
        )
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.txn_id,
            "out_trade_no": payment.out_trade_no,
            "trade_status": status,
            "total_amount": yuan(payment.amount_fen),
            "buyer_logon_id": "hut***@sandbox.example",
        }
        if payment.paid_at:
            answer["send_pay_date"] = local_time(payment.paid_at)
        return answer

    def _refund(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_request_no = str(biz.get("out_request_no") or biz["out_trade_no"])
        with self.ledger.lock:
            payment = self.ledger.payments.get(str(biz.get("out_trade_no", "")))
            if payment is None:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_NOT_EXIST",
                    "sub_msg": "交易不存在",
                }
            existing = self.ledger.refunds.get(out_request_no)
            if existing is None:
                amount = fen(str(biz["refund_amount"]))
                if (
                    payment.state != "succeeded"
                    or payment.refunded_fen + amount > payment.amount_fen
                ):
                    return {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                        "sub_msg": "退款金额超限",
                    }
                payment.refunded_fen += amount
                now = dt.datetime.now(dt.UTC)
                self.ledger.refunds[out_request_no] = EmuRefund(
                    merchant_key=payment.merchant_key,
                    out_trade_no=payment.out_trade_no,
                    out_refund_no=out_request_no,
                    amount_fen=amount,
                    refund_id=payment.txn_id,
                    notify_url=payment.notify_url,
                    state="succeeded",
                    succeeded_at=now,
                )
                fund_change = "Y"
            else:
                fund_change = "N"  # the same out_request_no again: already refunded
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.txn_id,
            "out_trade_no": payment.out_trade_no,
            "buyer_logon_id": "hut***@sandbox.example",
            "fund_change": fund_change,
            "refund_fee": yuan(payment.refunded_fen),
            "gmt_refund_pay": local_time(dt.datetime.now(dt.UTC)),
        }

    def _refund_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        refund = self.ledger.refunds.get(str(biz.get("out_request_no", "")))
        if refund is None or refund.out_trade_no != biz.get("out_trade_no"):
            return {"code": "10000", "msg": "Success"}  # Alipay answers an unknown refund empty
        payment = self.ledger.payment(refund.out_trade_no)
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.txn_id,
            "out_trade_no": refund.out_trade_no,
            "out_request_no": refund.out_refund_no,
            "total_amount": yuan(payment.amount_fen),
            "refund_amount": yuan(refund.amount_fen),
            "refund_status": "REFUND_SUCCESS",
        }

    def _bill_url(self, app: AlipayApp, biz: dict[str, Any]) -> dict[str, Any]:
        day = str(biz["bill_date"])
        return {
            "code": "10000",
            "msg": "Success",
            "bill_download_url": f"{self.base_url}/_emulator/bills/{app.app_id}/{day}.zip",
        }

    def bill(self, app_id: str, day: dt.date) -> bytes:
        """The day's trade bill: a zip holding one GBK CSV (see providers.alipay's caveat)."""
        out = io.StringIO()
        out.write(f"#支付宝业务明细查询\n#账号：[{app_id}]\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "支付宝交易号",
                "商户订单号",
                "业务类型",
                "商品名称",
                "创建时间",
                "完成时间",
                "订单金额（元）",
                "商家实收（元）",
                "退款批次号/请求号",
                "服务费（元）",
                "备注",
            ]
        )
        for kind, item in self.ledger.day_lines(app_id, day):
            if kind == "payment":
                charge = (item.amount_fen * FEE_RATE_BP + 5_000) // 10_000
                writer.writerow(
                    [
                        item.txn_id,
                        item.out_trade_no,
                        "交易",
                        item.subject,
                        local_time(item.created_at),
                        local_time(item.paid_at),
                        yuan(item.amount_fen),
                        yuan(item.amount_fen - charge),
                        "",
                        "-" + yuan(charge),
                        "",
                    ]
                )
            else:
                charge = (item.amount_fen * FEE_RATE_BP + 5_000) // 10_000
                writer.writerow(
                    [
                        item.refund_id,
                        item.out_trade_no,
                        "退款",
                        "",
                        local_time(item.created_at),
                        local_time(item.succeeded_at),
                        "-" + yuan(item.amount_fen),
                        "-" + yuan(item.amount_fen - charge),
                        item.out_refund_no,
                        yuan(charge),
                        "",
                    ]
                )
        out.write("#业务明细列表结束\n")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr(f"{app_id}_{day:%Y%m%d}_业务明细.csv", out.getvalue().encode("gbk"))
        return archive.getvalue()

    # -- the app ---------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        router = APIRouter()

        @router.api_route("/gateway.do", methods=["GET", "POST"], response_class=PlainTextResponse)
        async def gateway(request: Request) -> Response:
            if request.method == "GET":
                params = dict(request.query_params)
            else:
                params = dict(
                    parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
                )
            self.base_url = self.base_url or str(request.base_url).rstrip("/")
            app = self._verify_request(params)
            method = params.get("method", "")
            biz = json.loads(params.get("biz_content") or "{}")
            handlers = {
                "alipay.trade.precreate": lambda: self._precreate(app, params, biz),
                "alipay.trade.query": lambda: self._query(biz),
                "alipay.trade.refund": lambda: self._refund(biz),
                "alipay.trade.fastpay.refund.query": lambda: self._refund_query(biz),
                "alipay.data.dataservice.bill.downloadurl.query": lambda: self._bill_url(app, biz),
            }
            handler = handlers.get(method)
            if handler is None:
                raise HTTPException(400, f"unsupported method {method!r}")
            text = self.envelope(method, handler())
            return Response(text, media_type="text/html;charset=utf-8")

        @router.get("/_emulator/bills/{app_id}/{day}.zip")
        def bill(app_id: str, day: dt.date) -> Response:
            return Response(self.bill(app_id, day), media_type="application/zip")

        control = control_router(self.ledger, self.notifier, self.notify_paid, self.notify_refunded)
        return emulator_app(
            "Alipay emulator (hutong)", router, control, omission_router(self.omission)
        )
