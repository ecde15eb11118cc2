"""Alipay Open Platform (支付宝开放平台), RSA2.

Follows, and is tested against, what the providers and their SDKs publish:

- Requests: the common parameters ``app_id, method, format, charset, sign_type, timestamp,
  version, notify_url, biz_content`` (biz_content a JSON string), signed with SHA256withRSA
  (PKCS#1 v1.5, base64) over every parameter but ``sign``, sorted by name and joined as
  ``k=v&...`` with raw values; sent form-encoded to the gateway (``gateway.do``). Source:
  Alipay's "自行实现签名" page and python-alipay-sdk ``BaseAliPay.sign_data``.
- Responses: ``{"<method with underscores>_response": {...}, "sign": "..."}``; the signature
  covers the exact JSON text of the ``_response`` object (never re-serialised). ``code``
  ``10000`` is success; ``40004`` a business failure with ``sub_code`` (e.g.
  ``ACQ.TRADE_NOT_EXIST``). Source: the same SDK's ``_verify_and_return_sync_response``.
- Asynchronous notifications (``notify_type=trade_status_sync``): a form POST signed over the
  sorted parameters *without* ``sign`` and ``sign_type``, verified with the Alipay public key;
  ``trade_status`` WAIT_BUYER_PAY / TRADE_SUCCESS / TRADE_FINISHED / TRADE_CLOSED; answered
  with the seven bytes ``success`` (anything else is re-sent: 4m, 10m, 10m, 1h, 2h, 6h, 15h).
  ``notify_id`` is the same on every re-send, so it is the dedupe key. Source: Alipay's async
  notification page (docs.open.alipay.com/270/105902, docs.antom.com/ac/web_cn/async).
- Methods: ``alipay.trade.precreate`` (a QR code to scan), ``alipay.trade.query``,
  ``alipay.trade.refund`` (``out_request_no`` makes a refund idempotent; the answer is
  synchronous), ``alipay.trade.fastpay.refund.query``,
  ``alipay.data.dataservice.bill.downloadurl.query`` (a short-lived URL to the day's bill).

Not confirmed from a published source, and what this module does instead:
- whether ``notify_time`` is refreshed on each re-send: treated as the send time and checked
  for staleness like a signed timestamp (a stale one is refused and comes again fresh);
- refund notifications (sent only when the merchant subscribes): acknowledged, never
  applied; refunds are settled from the synchronous answer and ``fastpay.refund.query``;
- the bill file's columns: a zip holding one GBK CSV whose columns are read by name
  (``支付宝交易号``, ``商户订单号``, ``业务类型``, ``订单金额（元）``, ``服务费（元）``,
  ``完成时间``, ``退款批次号/请求号``), lines starting with ``#`` skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import httpx

from hutong.answers import MALFORMED, malformed, required
from hutong.payments import crypto
from hutong.payments.protocol import (
    Account,
    AccountLookup,
    Notice,
    NoticeRefused,
    PaymentStatus,
    PayRequest,
    PayStarted,
    QueryResult,
    RefundCall,
    RefundResult,
    RefundStatus,
    Reply,
    StatementLine,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
TRADE_STATUS = {
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_SUCCESS": PaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": PaymentStatus.SUCCEEDED,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}
# Alipay's public codes that refuse a request outright (missing or illegal parameters, business
# failure, no permission): nothing happened. 20000 and 20001 (service unavailable, an auth
# token) leave the outcome unknown.
REFUSED = frozenset({"40001", "40002", "40004", "40006"})
RETRY_SCHEDULE = [240.0, 600.0, 600.0, 3600.0, 7200.0, 21600.0, 54000.0]


# -- pure message building and reading ----------------------------------------------------------
def yuan(fen: int) -> str:
    """Alipay amounts are yuan with two decimals: 19900 fen -> "199.00"."""
    return f"{fen // 100}.{fen % 100:02d}"


def fen(amount: str) -> int:
    """ "199.00" -> 19900; ValueError for anything that is not a yuan amount to the fen."""
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    cents = value * 100
    if value < 0 or cents != cents.to_integral_value():
        raise ValueError(f"not an amount in yuan to the fen: {amount!r}")
    return int(cents)


def sign_content(params: Mapping[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    """The string Alipay signs: sorted ``k=v`` joined by ``&``, raw values, ``exclude`` left out
    (requests leave out ``sign``; notifications ``sign`` and ``sign_type``)."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude)


def local_time(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def parse_local(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def request_params(
    account: Account, method: str, biz: Mapping[str, object], notify: bool = False
) -> dict[str, str]:
    """The signed parameters of one gateway call."""
    params = {
        "app_id": account.merchant_key,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": local_time(dt.datetime.now(dt.UTC)),
        "version": "1.0",
        "biz_content": json.dumps(biz, separators=(",", ":"), ensure_ascii=False),
    }
    if notify:
        params["notify_url"] = account.notify_url
    key = crypto.load_private(account.settings["app_private_key"])
    params["sign"] = crypto.rsa_sign(key, sign_content(params).encode())
    return params


def response_text(raw: str, method: str) -> str:
    """The exact JSON text of ``<method>_response`` inside a gateway answer (brace-matched,
    strings respected), which is what Alipay signed."""
    key = f'"{method.replace(".", "_")}_response"'
    start = raw.find(key)
    if start < 0:
        raise ValueError("no response object")
    start = raw.index("{", start + len(key))
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(raw)):
        ch = raw[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return raw[start : i + 1]
    raise ValueError("unbalanced response object")


def read_response(raw: str, method: str, alipay_public_key: str) -> dict[str, str]:
    """The verified ``_response`` object; ValueError if unsigned, forged or malformed."""
    signed = response_text(raw, method)
    signature = json.loads(raw).get("sign", "")
    if not crypto.rsa_verify(crypto.load_public(alipay_public_key), signed.encode(), signature):
        raise ValueError("response signature does not verify")
    answer: dict[str, str] = json.loads(signed)
    return answer


def notice_of(params: Mapping[str, str]) -> Notice:
    """The Notice a verified ``trade_status_sync`` carries."""
    try:
        status = params["trade_status"]
        refund_info = "out_biz_no" in params or "refund_fee" in params
        return Notice(
            kind="info" if refund_info else "payment",
            dedupe_key=params["notify_id"],
            merchant_key=params["app_id"],
            out_trade_no=params["out_trade_no"],
            status=TRADE_STATUS[status].value,
            amount_fen=fen(params["total_amount"]),
            provider_txn_id=params.get("trade_no", ""),
            raw_status=status,
            signed_at=parse_local(params["notify_time"]),
        )
    except (KeyError, ValueError) as exc:
        raise NoticeRefused("malformed", f"not a trade_status_sync: {exc}") from exc


class AlipayProvider:
    name: str = "alipay"
    settings_required: tuple[str, ...] = ("app_id", "app_private_key", "alipay_public_key")
    settings_secret: tuple[str, ...] = ("app_private_key",)
    merchant_key_setting: str = "app_id"

    def _call(
        self,
        account: Account,
        method: str,
        biz: Mapping[str, object],
        client: httpx.Client,
        notify: bool = False,
    ) -> dict[str, str]:
        """A verified gateway answer; raises httpx.HTTPError or ValueError (caught by callers)."""
        params = request_params(account, method, biz, notify)
        answer = client.post(
            account.gateway_url,
            data=params,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        answer.raise_for_status()
        return read_response(answer.text, method, account.settings["alipay_public_key"])

    def start(self, account: Account, request: PayRequest, client: httpx.Client) -> PayStarted:
        biz = {
            "out_trade_no": request.out_trade_no,
            "total_amount": yuan(request.amount_fen),
            "subject": request.subject,
            "time_expire": local_time(request.expires_at),
        }
        try:
            data = self._call(account, "alipay.trade.precreate", biz, client, notify=True)
        except (httpx.HTTPError, ValueError) as exc:
            return PayStarted(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("code") != "10000":
            return PayStarted(ok=False, error=f"{data.get('sub_code')}: {data.get('sub_msg')}")
        try:
            return PayStarted(ok=True, pay_url=required(data, "qr_code"))
        except MALFORMED as exc:
            return PayStarted(ok=False, error=malformed(exc, json.dumps(data)))

    def read_notice(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup, hint: str = ""
    ) -> Notice:
        try:
            params = dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise NoticeRefused("malformed", "not a form body") from exc
        account = accounts(params.get("app_id", ""))
        if account is None:
            raise NoticeRefused("unknown_account", f"no alipay app {params.get('app_id')!r}")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise NoticeRefused("forged", f"sign_type {params.get('sign_type')!r} is not RSA2")
        public = crypto.load_public(account.settings["alipay_public_key"])
        content = sign_content(params, exclude=("sign", "sign_type"))
        if not crypto.rsa_verify(public, content.encode(), params.get("sign", "")):
            raise NoticeRefused("forged", "sign does not verify with the Alipay public key")
        return notice_of(params)

    def reply(self, accepted: bool) -> Reply:
        return Reply(200, b"success" if accepted else b"fail")

    def query(
        self,
        account: Account,
        out_trade_no: str,
        client: httpx.Client,
        placed_at: dt.datetime | None = None,
    ) -> QueryResult:
        try:
            data = self._call(account, "alipay.trade.query", {"out_trade_no": out_trade_no}, client)
        except (httpx.HTTPError, ValueError) as exc:
            return QueryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return QueryResult(ok=True, found=False)
        if data.get("code") != "10000":
            return QueryResult(ok=False, error=f"{data.get('sub_code')}: {data.get('sub_msg')}")
        try:
            status = data["trade_status"]
            return QueryResult(
                ok=True,
                found=True,
                status=TRADE_STATUS[status],
                amount_fen=fen(data["total_amount"]),
                provider_txn_id=str(data.get("trade_no", "")),
                raw_status=status,
            )
        except MALFORMED as exc:
            return QueryResult(ok=False, error=malformed(exc, json.dumps(data)))

    def refund(self, account: Account, call: RefundCall, client: httpx.Client) -> RefundResult:
        biz = {
            "out_trade_no": call.out_trade_no,
            "refund_amount": yuan(call.amount_fen),
            "out_request_no": call.out_refund_no,
            "refund_reason": call.reason,
        }
        try:
            data = self._call(account, "alipay.trade.refund", biz, client)
        except (httpx.HTTPError, ValueError) as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("code") != "10000":
            if data.get("code") not in REFUSED or data.get("sub_code") == "ACQ.SYSTEM_ERROR":
                # 20000 (service unavailable), a system error, an unknown code or none: the
                # outcome is unknown; the same out_request_no is sent again (Alipay's advice)
                return RefundResult(ok=False, error=f"{data.get('code')}: {data.get('sub_msg')}")
            return RefundResult(
                ok=True,
                status=RefundStatus.FAILED,
                raw_status=str(data.get("sub_code")),
                error=f"{data.get('sub_code')}: {data.get('sub_msg')}",
            )
        # A synchronous success is the refund (fund_change N only means "already refunded").
        return RefundResult(
            ok=True,
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=data.get("trade_no", ""),
            raw_status=f"fund_change={data.get('fund_change')}",
        )

    def query_refund(
        self, account: Account, call: RefundCall, client: httpx.Client
    ) -> RefundResult:
        biz = {"out_trade_no": call.out_trade_no, "out_request_no": call.out_refund_no}
        try:
            data = self._call(account, "alipay.trade.fastpay.refund.query", biz, client)
        except (httpx.HTTPError, ValueError) as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("code") != "10000":
            return RefundResult(ok=False, error=f"{data.get('sub_code')}: {data.get('sub_msg')}")
        if not data.get("refund_amount"):
            return RefundResult(ok=True, status=RefundStatus.PROCESSING)  # not (yet) there
        return RefundResult(
            ok=True,
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=data.get("trade_no", ""),
            raw_status=data.get("refund_status", "REFUND_SUCCESS"),
        )

    def statement(
        self, account: Account, day: dt.date, client: httpx.Client
    ) -> list[StatementLine]:
        biz = {"bill_type": "trade", "bill_date": day.isoformat()}
        data = self._call(account, "alipay.data.dataservice.bill.downloadurl.query", biz, client)
        if data.get("code") != "10000":
            raise ValueError(f"bill not available: {data.get('sub_code')}")
        answer = client.get(data["bill_download_url"])
        answer.raise_for_status()
        return parse_bill(answer.content)


def parse_bill(archive: bytes) -> list[StatementLine]:
    """Lines of an Alipay trade bill (a zip of GBK CSVs; see the module's caveat)."""
    lines = []
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for name in zipped.namelist():
            text = zipped.read(name).decode("gbk")
            rows = [r for r in text.splitlines() if r and not r.startswith("#")]
            for row in csv.DictReader(rows):
                kind = "refund" if row["业务类型"].strip() == "退款" else "payment"
                amount = abs(fen(row["订单金额（元）"].strip().lstrip("-")))
                fee = fen(row["服务费（元）"].strip().lstrip("-") or "0")
                lines.append(
                    StatementLine(
                        kind=kind,
                        out_trade_no=row["商户订单号"].strip(),
                        out_refund_no=row.get("退款批次号/请求号", "").strip(),
                        provider_txn_id=row["支付宝交易号"].strip(),
                        amount_fen=amount,
                        fee_fen=-fee if kind == "refund" else fee,
                        at=parse_local(row["完成时间"].strip()),
                    )
                )
    return lines


def now_local() -> str:
    return local_time(dt.datetime.fromtimestamp(time.time(), dt.UTC))


PROVIDER = AlipayProvider()
