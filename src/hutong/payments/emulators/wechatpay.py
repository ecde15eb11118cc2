"""WeChat Pay's side of APIv3, offline (``hutong sandbox wechatpay``).

Every request must carry a valid ``WECHATPAY2-SHA256-RSA2048`` Authorization from a known
merchant (401 ``SIGN_ERROR`` otherwise); every answer is signed with the platform key and names
its public-key id in ``Wechatpay-Serial``. The buyer pays at ``/_emulator/pay/{out_trade_no}``
(the ``code_url``; the real one is ``weixin://wxpay/bizpayurl?pr=...``). Notifications carry an
AES-256-GCM encrypted resource and are re-sent on WeChat's schedule until answered 200/204.
Refunds stay PROCESSING until ``/_emulator/refunds/{no}/succeed`` (or at once with
``auto_refund``), then REFUND.SUCCESS is notified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

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
from hutong.payments.providers.wechatpay import (
    RETRY_SCHEDULE,
    encrypt_resource,
    parse_authorization,
    request_message,
    rfc3339,
    signed_headers,
)

FEE_RATE = 60  # basis points: 0.6 %


@dataclass(frozen=True)
class WechatMerchant:
    mchid: str
    appid: str
    serial_no: str  # of the merchant's API key
    public_key: str  # PEM: verifies the merchant's requests
    apiv3_key: str


class WechatPayEmulator:
    def __init__(
        self,
        merchants: list[WechatMerchant],
        platform_private_key: str,
        public_key_id: str,
        *,
        time_scale: float = 1.0,
        auto_refund: bool = True,
    ) -> None:
        self.merchants = {m.mchid: m for m in merchants}
        self.platform_key = platform_private_key
        self.public_key_id = public_key_id
        self.ledger = Ledger()
        self.notifier = Notifier(RETRY_SCHEDULE, time_scale)
        self.auto_refund = auto_refund
        self.bills: dict[str, bytes] = {}
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    # -- signing ---------------------------------------------------------------------------
    def answer(self, status: int, body: dict[str, Any] | None) -> Response:
        body = self.omission.apply(body) if body else body
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body else ""
        headers = signed_headers(self.platform_key, self.public_key_id, text)
        return Response(text, status_code=status, media_type="application/json", headers=headers)

    def error(self, status: int, code: str, message: str) -> Response:
        # errors are signed too (WeChat signs 4xx answers); clients only must check 2xx
        return self.answer(status, {"code": code, "message": message})

    async def authenticate(self, request: Request) -> tuple[WechatMerchant | None, bytes]:
        body = await request.body()
        try:
            fields = parse_authorization(request.headers.get("Authorization", ""))
        except ValueError:
            return None, body
        merchant = self.merchants.get(fields["mchid"])
        if merchant is None or fields["serial_no"] != merchant.serial_no:
            return None, body
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = request_message(
            request.method, path, fields["timestamp"], fields["nonce_str"], body.decode()
        )
        if abs(time.time() - int(fields["timestamp"])) > 300:
            return None, body
        if not crypto.rsa_verify(
            crypto.load_public(merchant.public_key), message, fields["signature"]
        ):
            return None, body
        return merchant, body

    def notification(
        self,
        merchant: WechatMerchant,
        event_id: str,
        event_type: str,
        original_type: str,
        resource: dict[str, Any],
    ) -> tuple[dict[str, str], bytes]:
        envelope = {
            "id": event_id,
            "create_time": rfc3339(dt.datetime.now(dt.UTC)),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else "退款状态变更",
            "resource": encrypt_resource(
                merchant.apiv3_key, self.omission.apply(resource), original_type
            ),
        }
        text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
        headers = signed_headers(self.platform_key, self.public_key_id, text)
        return {**headers, "Content-Type": "application/json"}, text.encode()

    def transaction(self, p: EmuPayment) -> dict[str, Any]:
        merchant = self.merchants[p.merchant_key]
        state = {"succeeded": "SUCCESS", "closed": "CLOSED"}.get(p.state, "NOTPAY")
        if state == "SUCCESS" and p.refunded_fen:
            state = "REFUND"
        data: dict[str, Any] = {
            "appid": merchant.appid,
            "mchid": merchant.mchid,
            "out_trade_no": p.out_trade_no,
            "transaction_id": p.txn_id,
            "trade_type": "NATIVE",
            "trade_state": state,
            "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付"}.get(state, state),
            "bank_type": "OTHERS",
            "attach": "",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": p.amount_fen,
                "payer_total": p.amount_fen,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        if p.paid_at:
            data["success_time"] = rfc3339(p.paid_at)
        return data

    def refund_body(self, r: EmuRefund) -> dict[str, Any]:
        payment = self.ledger.payment(r.out_trade_no)
        body: dict[str, Any] = {
            "refund_id": r.refund_id,
            "out_refund_no": r.out_refund_no,
            "transaction_id": payment.txn_id,
            "out_trade_no": r.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "status": "SUCCESS" if r.state == "succeeded" else "PROCESSING",
            "create_time": rfc3339(r.created_at),
            "amount": {
                "refund": r.amount_fen,
                "total": payment.amount_fen,
                "payer_total": payment.amount_fen,
                "payer_refund": r.amount_fen,
                "currency": "CNY",
            },
        }
        if r.succeeded_at:
            body["success_time"] = rfc3339(r.succeeded_at)
        return body

    def _deliver(self, url: str, build: Any, label: str) -> None:
        self.notifier.send(Delivery(url, build, lambda r: r.status_code in (200, 204), label))

    def notify_paid(self, p: EmuPayment) -> None:
        merchant = self.merchants[p.merchant_key]
        event_id = p.extra.setdefault("event_id", secrets.token_hex(16))
        self._deliver(
            p.notify_url,
            lambda: self.notification(
                merchant, event_id, "TRANSACTION.SUCCESS", "transaction", self.transaction(p)
            ),
            f"wechatpay TRANSACTION.SUCCESS {p.out_trade_no}",
        )

    def notify_refunded(self, r: EmuRefund) -> None:
        merchant = self.merchants[r.merchant_key]
        event_id = f"RF-{r.refund_id}"

        def build() -> tuple[dict[str, str], bytes]:
            body = self.refund_body(r)
            resource = {
                "mchid": merchant.mchid,
                "out_trade_no": r.out_trade_no,
                "transaction_id": body["transaction_id"],
                "out_refund_no": r.out_refund_no,
                "refund_id": r.refund_id,
                "refund_status": body["status"],
                "user_received_account": body["user_received_account"],
                "amount": body["amount"],
            }
            if r.succeeded_at:
                resource["success_time"] = rfc3339(r.succeeded_at)
            return self.notification(merchant, event_id, "REFUND.SUCCESS", "refund", resource)

        self._deliver(r.notify_url, build, f"wechatpay REFUND.SUCCESS {r.out_refund_no}")

    def bill(self, mchid: str, day: dt.date) -> bytes:
        out = io.StringIO()
        columns = [
            "交易时间",
            "公众账号ID",
            "商户号",
            "特约商户号",
            "设备号",
            "微信订单号",
            "商户订单号",
            "用户标识",
            "交易类型",
            "交易状态",
            "付款银行",
            "货币种类",
            "应结订单金额",
            "代金券金额",
            "微信退款单号",
            "商户退款单号",
            "退款金额",
            "充值券退款金额",
            "退款类型",
            "退款状态",
            "商品名称",
            "商户数据包",
            "手续费",
            "费率",
            "订单金额",
            "申请退款金额",
            "费率备注",
        ]
        out.write(",".join(columns) + "\n")
        count = total = refunds = fees = 0
        merchant = self.merchants[mchid]
        for kind, item in self.ledger.day_lines(mchid, day):
            fee = (item.amount_fen * FEE_RATE + 5_000) // 10_000
            amount = f"{item.amount_fen / 100:.2f}"
            if kind == "payment":
                values = [
                    item.paid_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                    merchant.appid,
                    mchid,
                    "0",
                    "",
                    item.txn_id,
                    item.out_trade_no,
                    "o-user",
                    "NATIVE",
                    "SUCCESS",
                    "OTHERS",
                    "CNY",
                    amount,
                    "0.00",
                    "0",
                    "0",
                    "0.00",
                    "0.00",
                    "",
                    "",
                    item.subject,
                    "",
                    f"{fee / 100:.5f}",
                    "0.60%",
                    amount,
                    "0.00",
                    "",
                ]
                total += item.amount_fen
                fees += fee
            else:
                payment = self.ledger.payment(item.out_trade_no)
                values = [
                    item.succeeded_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                    merchant.appid,
                    mchid,
                    "0",
                    "",
                    payment.txn_id,
                    item.out_trade_no,
                    "o-user",
                    "NATIVE",
                    "REFUND",
                    "OTHERS",
                    "CNY",
                    "0.00",
                    "0.00",
                    item.refund_id,
                    item.out_refund_no,
                    amount,
                    "0.00",
                    "ORIGINAL",
                    "SUCCESS",
                    payment.subject,
                    "",
                    f"-{fee / 100:.5f}",
                    "0.60%",
                    "0.00",
                    amount,
                    "",
                ]
                refunds += item.amount_fen
                fees -= fee
            count += 1
            out.write(",".join("`" + v for v in values) + "\n")
        out.write(
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
        )
        out.write(
            f"`{count},`{total / 100:.2f},`{refunds / 100:.2f},`0.00,`{fees / 100:.5f},"
            f"`{total / 100:.2f},`{refunds / 100:.2f}\n"
        )
        return out.getvalue().encode()

    # -- the app ---------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/v3/pay/transactions/native")
        async def native(request: Request) -> Response:
            merchant, body = await self.authenticate(request)
            if merchant is None:
                return self.error(401, "SIGN_ERROR", "签名错误")
            data = json.loads(body)
            if data.get("mchid") != merchant.mchid or data.get("appid") != merchant.appid:
                return self.error(400, "PARAM_ERROR", "appid和mch_id不匹配")
            out_trade_no = data["out_trade_no"]
            with ledger.lock:
                payment = ledger.payments.get(out_trade_no)
                if payment is None:
                    payment = EmuPayment(
                        merchant_key=merchant.mchid,
                        out_trade_no=out_trade_no,
                        amount_fen=int(data["amount"]["total"]),
                        subject=data["description"],
                        notify_url=data["notify_url"],
                        txn_id="4200" + secrets.token_hex(12)[:24],
                    )
                    ledger.payments[out_trade_no] = payment
                elif payment.state != "pending":
                    return self.error(400, "ORDERPAID", "该订单已支付")
            base = str(request.base_url).rstrip("/")
            return self.answer(200, {"code_url": f"{base}/_emulator/pay/{out_trade_no}"})

        @router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
        async def query(out_trade_no: str, request: Request) -> Response:
            merchant, _ = await self.authenticate(request)
            if merchant is None:
                return self.error(401, "SIGN_ERROR", "签名错误")
            payment = ledger.payments.get(out_trade_no)
            if payment is None or payment.merchant_key != merchant.mchid:
                return self.error(404, "ORDER_NOT_EXIST", "订单不存在")
            return self.answer(200, self.transaction(payment))

        @router.post("/v3/refund/domestic/refunds")
        async def refund(request: Request) -> Response:
            merchant, body = await self.authenticate(request)
            if merchant is None:
                return self.error(401, "SIGN_ERROR", "签名错误")
            data = json.loads(body)
            with ledger.lock:
                existing = ledger.refunds.get(data["out_refund_no"])
                if existing is None:
                    payment = ledger.payments.get(data["out_trade_no"])
                    amount = int(data["amount"]["refund"])
                    if payment is None or payment.merchant_key != merchant.mchid:
                        return self.error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
                    if int(data["amount"]["total"]) != payment.amount_fen:
                        return self.error(400, "PARAM_ERROR", "订单金额与退款金额不匹配")
                    if (
                        payment.state != "succeeded"
                        or payment.refunded_fen + amount > payment.amount_fen
                    ):
                        return self.error(403, "NOT_ENOUGH", "退款金额超限")
                    payment.refunded_fen += amount
                    existing = EmuRefund(
                        merchant_key=merchant.mchid,
                        out_trade_no=payment.out_trade_no,
                        out_refund_no=data["out_refund_no"],
                        amount_fen=amount,
                        refund_id="5030" + secrets.token_hex(12)[:24],
                        notify_url=data.get("notify_url") or payment.notify_url,
                    )
                    ledger.refunds[existing.out_refund_no] = existing
                    fresh = True
                else:
                    fresh = False
            answer = self.answer(200, self.refund_body(existing))
            if fresh and self.auto_refund:
                with ledger.lock:
                    existing.state, existing.succeeded_at = "succeeded", dt.datetime.now(dt.UTC)
                self.notify_refunded(existing)
            return answer

        @router.get("/v3/refund/domestic/refunds/{out_refund_no}")
        async def query_refund(out_refund_no: str, request: Request) -> Response:
            merchant, _ = await self.authenticate(request)
            if merchant is None:
                return self.error(401, "SIGN_ERROR", "签名错误")
            found = ledger.refunds.get(out_refund_no)
            if found is None or found.merchant_key != merchant.mchid:
                return self.error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return self.answer(200, self.refund_body(found))

        @router.get("/v3/bill/tradebill")
        async def tradebill(bill_date: dt.date, request: Request) -> Response:
            merchant, _ = await self.authenticate(request)
            if merchant is None:
                return self.error(401, "SIGN_ERROR", "签名错误")
            token = secrets.token_urlsafe(12)
            self.bills[token] = self.bill(merchant.mchid, bill_date)
            base = str(request.base_url).rstrip("/")
            return self.answer(
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(self.bills[token]).hexdigest(),  # noqa: S324
                    "download_url": f"{base}/v3/billdownload/file?token={token}",
                },
            )

        @router.get("/v3/billdownload/file")
        async def download(token: str, request: Request) -> Response:
            merchant, _ = await self.authenticate(request)
            if merchant is None or token not in self.bills:
                return self.error(401, "SIGN_ERROR", "签名错误")
            return Response(self.bills.pop(token), media_type="application/octet-stream")

        control = control_router(ledger, self.notifier, self.notify_paid, self.notify_refunded)
        return emulator_app(
            "WeChat Pay emulator (hutong)", router, control, omission_router(self.omission)
        )
