"""WeChat Pay API v3 (微信支付 APIv3), public-key mode.

Follows, and is tested against, what WeChat Pay and the wechatpayv3 SDK publish:

- Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."``: SHA256withRSA (PKCS#1 v1.5, base64) with the
  merchant's API key over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``; and
  ``Wechatpay-Serial`` naming the platform public key. Source: pay.weixin.qq.com "签名生成"
  (wechatpay4_0), wechatpayv3 ``utils.build_authorization``.
- Answers and notifications are signed by WeChat Pay over ``TIMESTAMP\\nNONCE\\nBODY\\n``
  (the raw body) and carry ``Wechatpay-Timestamp``, ``-Nonce``, ``-Signature``, ``-Serial``
  and ``-Signature-Type: WECHATPAY2-SHA256-RSA2048``; a 2xx without a valid signature is
  forged. Since 2024 merchants get a platform *public key* with an id ``PUB_KEY_ID_...`` as the
  serial. Source: "签名验证" (wechatpay4_1, signature-verification.html), wechatpayv3
  ``Core._verify_signature``.
- Notification bodies ``{"id", "create_time", "event_type", "resource_type",
  "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext", "nonce",
  "associated_data", "original_type"}}``; the resource decrypts with AES-256-GCM under the
  32-byte APIv3 key. Events: ``TRANSACTION.SUCCESS``, ``REFUND.SUCCESS``,
  ``REFUND.ABNORMAL``, ``REFUND.CLOSED``. Answer 200 or 204 with no body to accept; 4xx/5xx
  with ``{"code": "FAIL", "message": ...}`` to be sent again (15s, 15s, 30s, 3m, 10m, 20m,
  30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h). Source: "支付通知API" (apiv3 chapter3_3_5), the
  wechatpayv3 Q&A.
- Endpoints: ``POST /v3/pay/transactions/native`` (a ``code_url`` to scan), ``GET
  /v3/pay/transactions/out-trade-no/{no}?mchid=``, ``POST /v3/refund/domestic/refunds``,
  ``GET /v3/refund/domestic/refunds/{no}``, ``GET /v3/bill/tradebill?bill_date=``.
  ``trade_state`` SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR; refund
  ``status`` SUCCESS, CLOSED, PROCESSING, ABNORMAL.

Not confirmed from a published source, and what this module does instead:
- the replay window: WeChat tells merchants to check ``Wechatpay-Timestamp`` without a
  figure in the page text read; 300 s (``HUTONG_POSTBACK_TOLERANCE_SECONDS``) is used, the
  figure independent implementations use; a nonce seen before is refused;
- the notify URL carries the merchant id as its last path segment
  (``/notify/wechatpay/<mchid>``): WeChat forbids query strings there, and the encrypted body
  cannot name the merchant before it is decrypted;
- the trade bill's columns (read by name: 交易时间, 微信订单号, 商户订单号, 交易状态, 应结订单金额,
  微信退款单号, 商户退款单号, 退款金额, 手续费; values prefixed with a backtick; a summary after
  the rows), fetched without ``tar_type`` so it comes as plain text, its SHA1 checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal

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

SCHEME = "WECHATPAY2-SHA256-RSA2048"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
TRADE_STATE = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "REFUND": PaymentStatus.SUCCEEDED,  # paid, then (partly) refunded
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
    "CLOSED": PaymentStatus.CLOSED,
    "REVOKED": PaymentStatus.CLOSED,
    "PAYERROR": PaymentStatus.FAILED,
}
REFUND_STATUS = {
    "SUCCESS": RefundStatus.SUCCEEDED,
    "PROCESSING": RefundStatus.PROCESSING,
    "CLOSED": RefundStatus.FAILED,
    "ABNORMAL": RefundStatus.FAILED,
}
RETRY_SCHEDULE = [15.0, 15.0, 30.0, 180.0, 600.0, 1200.0, 1800.0, 1800.0, 1800.0, 3600.0,
                  10800.0, 10800.0, 10800.0, 21600.0, 21600.0]  # fmt: skip


# -- pure message building and reading ----------------------------------------------------------
def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> bytes:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n".encode()


def response_message(timestamp: str, nonce: str, body: str) -> bytes:
    return f"{timestamp}\n{nonce}\n{body}\n".encode()


def authorization(
    mchid: str,
    serial_no: str,
    private_key: str,
    method: str,
    path: str,
    body: str,
    *,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    signature = crypto.rsa_sign(
        crypto.load_private(private_key), request_message(method, path, timestamp, nonce, body)
    )
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an ``Authorization`` header; ValueError if it is not WeChat Pay's."""
    scheme, _, rest = header.partition(" ")
    if scheme != SCHEME:
        raise ValueError(f"scheme {scheme!r} is not {SCHEME}")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value.strip('"')
    for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no"):
        if not fields.get(name):
            raise ValueError(f"authorization lacks {name}")
    return fields


def signed_headers(private_key: str, serial: str, body: str) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of an answer or notification with ``body``."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = crypto.rsa_sign(
        crypto.load_private(private_key), response_message(timestamp, nonce, body)
    )
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
    }


def verify_headers(headers: Mapping[str, str], body: str, public_key: str, serial: str) -> None:
    """Raise NoticeRefused unless WeChat Pay's key signed ``body`` (signature probes, whose
    signature starts ``WECHATPAY/SIGNTEST/``, fail here like any forgery)."""
    if _get(headers, "Wechatpay-Signature-Type") not in ("", SCHEME):
        raise NoticeRefused("forged", "unknown Wechatpay-Signature-Type")
    if _get(headers, "Wechatpay-Serial") != serial:
        raise NoticeRefused("forged", "Wechatpay-Serial is not this account's platform key")
    message = response_message(
        _get(headers, "Wechatpay-Timestamp"), _get(headers, "Wechatpay-Nonce"), body
    )
    if not crypto.rsa_verify(
        crypto.load_public(public_key), message, _get(headers, "Wechatpay-Signature")
    ):
        raise NoticeRefused("forged", "Wechatpay-Signature does not verify")


def _get(headers: Mapping[str, str], name: str) -> str:
    return headers.get(name) or headers.get(name.lower()) or ""


def encrypt_resource(
    apiv3_key: str, plaintext: dict[str, object], original_type: str
) -> dict[str, str]:
    nonce = secrets.token_urlsafe(9)[:12]
    aad = original_type
    data = json.dumps(plaintext, separators=(",", ":"), ensure_ascii=False).encode()
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": crypto.aes_gcm_encrypt(
            apiv3_key.encode(), nonce.encode(), data, aad.encode()
        ),
        "associated_data": aad,
        "nonce": nonce,
    }


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


class WechatPayProvider:
    name: str = "wechatpay"
    settings_required: tuple[str, ...] = (
        "mchid",
        "appid",
        "merchant_serial_no",
        "merchant_private_key",
        "platform_public_key",
        "platform_public_key_id",
        "apiv3_key",
    )
    settings_secret: tuple[str, ...] = ("merchant_private_key", "apiv3_key")
    merchant_key_setting: str = "mchid"

    def _request(
        self,
        account: Account,
        method: str,
        path: str,
        client: httpx.Client,
        payload: dict[str, object] | None = None,
    ) -> tuple[int, str]:
        """Send a signed request; the status and the answer, verified when it is a 2xx."""
        s = account.settings
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False) if payload else ""
        headers = {
            "Authorization": authorization(
                account.merchant_key,
                s["merchant_serial_no"],
                s["merchant_private_key"],
                method,
                path,
                body,
            ),
            "Wechatpay-Serial": s["platform_public_key_id"],
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        answer = client.request(
            method,
            account.gateway_url + path,
            content=body.encode() if body else None,
            headers=headers,
        )
        if 200 <= answer.status_code < 300:
            try:
                verify_headers(
                    answer.headers,
                    answer.text,
                    s["platform_public_key"],
                    s["platform_public_key_id"],
                )
            except NoticeRefused as exc:
                raise ValueError(f"answer not signed by WeChat Pay: {exc.detail}") from exc
        return answer.status_code, answer.text

    def start(self, account: Account, request: PayRequest, client: httpx.Client) -> PayStarted:
        payload: dict[str, object] = {
            "appid": account.settings["appid"],
            "mchid": account.merchant_key,
            "description": request.subject[:127],
            "out_trade_no": request.out_trade_no,
            "time_expire": rfc3339(request.expires_at),
            "notify_url": f"{account.notify_url}/{account.merchant_key}",
            "amount": {"total": request.amount_fen, "currency": request.currency},
        }
        try:
            status, text = self._request(
                account, "POST", "/v3/pay/transactions/native", client, payload
            )
        except (httpx.HTTPError, ValueError) as exc:
            return PayStarted(ok=False, error=f"{type(exc).__name__}: {exc}")
        if status != 200:
            return PayStarted(ok=False, error=f"{status} {text[:200]}")
        try:
            return PayStarted(ok=True, pay_url=required(json.loads(text), "code_url"))
        except MALFORMED as exc:
            return PayStarted(ok=False, error=malformed(exc, text))

    def read_notice(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup, hint: str = ""
    ) -> Notice:
        account = accounts(hint)
        if account is None:
            raise NoticeRefused("unknown_account", f"no wechatpay merchant {hint!r}")
        s = account.settings
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoticeRefused("malformed", "body is not UTF-8") from exc
        verify_headers(headers, text, s["platform_public_key"], s["platform_public_key_id"])
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            plain = crypto.aes_gcm_decrypt(
                s["apiv3_key"].encode(),
                resource["nonce"].encode(),
                resource["ciphertext"],
                resource.get("associated_data", "").encode(),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NoticeRefused("malformed", "not a WeChat Pay notification") from exc
        if plain is None:
            raise NoticeRefused("forged", "resource does not decrypt under the APIv3 key")
        try:
            data = json.loads(plain)
            mchid = data.get("mchid")
        except MALFORMED as exc:
            raise NoticeRefused("malformed", "resource is not a JSON object") from exc
        if mchid != account.merchant_key:
            raise NoticeRefused("wrong_account", "resource names another merchant")
        signed_at = dt.datetime.fromtimestamp(int(_get(headers, "Wechatpay-Timestamp")), dt.UTC)
        return _notice(envelope, data, signed_at, _get(headers, "Wechatpay-Nonce"))

    def reply(self, accepted: bool) -> Reply:
        if accepted:
            return Reply(204)
        body = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()
        return Reply(400, body, "application/json")

    def query(
        self,
        account: Account,
        out_trade_no: str,
        client: httpx.Client,
        placed_at: dt.datetime | None = None,
    ) -> QueryResult:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={account.merchant_key}"
        try:
            status, text = self._request(account, "GET", path, client)
        except (httpx.HTTPError, ValueError) as exc:
            return QueryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if status == 404:
            return QueryResult(ok=True, found=False)
        if status != 200:
            return QueryResult(ok=False, error=f"{status} {text[:200]}")
        try:
            data = json.loads(text)
            state = required(data, "trade_state")
            return QueryResult(
                ok=True,
                found=True,
                status=TRADE_STATE[state],
                amount_fen=_fen_field(data["amount"], "total"),
                provider_txn_id=str(data.get("transaction_id", "")),
                raw_status=state,
            )
        except MALFORMED as exc:
            return QueryResult(ok=False, error=malformed(exc, text))

    def refund(self, account: Account, call: RefundCall, client: httpx.Client) -> RefundResult:
        payload: dict[str, object] = {
            "out_trade_no": call.out_trade_no,
            "out_refund_no": call.out_refund_no,
            "reason": call.reason[:80],
            "notify_url": f"{account.notify_url}/{account.merchant_key}",
            "amount": {"refund": call.amount_fen, "total": call.total_fen, "currency": "CNY"},
        }
        try:
            status, text = self._request(
                account, "POST", "/v3/refund/domestic/refunds", client, payload
            )
        except (httpx.HTTPError, ValueError) as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return _refund_result(status, text)

    def query_refund(
        self, account: Account, call: RefundCall, client: httpx.Client
    ) -> RefundResult:
        try:
            status, text = self._request(
                account, "GET", f"/v3/refund/domestic/refunds/{call.out_refund_no}", client
            )
        except (httpx.HTTPError, ValueError) as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return _refund_result(status, text)

    def statement(
        self, account: Account, day: dt.date, client: httpx.Client
    ) -> list[StatementLine]:
        status, text = self._request(
            account, "GET", f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL", client
        )
        if status != 200:
            raise ValueError(f"bill not available: {status} {text[:200]}")
        info = json.loads(text)
        url = info["download_url"]
        path = url[len(account.gateway_url) :] if url.startswith(account.gateway_url) else url
        s = account.settings
        headers = {
            "Authorization": authorization(
                account.merchant_key,
                s["merchant_serial_no"],
                s["merchant_private_key"],
                "GET",
                path,
                "",
            )
        }
        answer = client.get(account.gateway_url + path, headers=headers)
        answer.raise_for_status()
        if hashlib.sha1(answer.content).hexdigest() != info.get("hash_value"):  # noqa: S324
            raise ValueError("bill file does not match its SHA1")
        return parse_bill(answer.content.decode("utf-8"))


def _notice(
    envelope: dict[str, object], data: dict[str, object], signed_at: dt.datetime, nonce: str
) -> Notice:
    event = str(envelope.get("event_type", ""))
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise NoticeRefused("malformed", "resource has no amount")
    try:
        if event.startswith("REFUND."):
            return Notice(
                kind="refund",
                dedupe_key=str(envelope["id"]),
                merchant_key=str(data["mchid"]),
                out_trade_no=str(data["out_trade_no"]),
                out_refund_no=str(data["out_refund_no"]),
                status=REFUND_STATUS[str(data["refund_status"])].value,
                amount_fen=int(amount["refund"]),
                provider_txn_id=str(data.get("refund_id", "")),
                raw_status=event,
                signed_at=signed_at,
                nonce=nonce,
            )
        return Notice(
            kind="payment",
            dedupe_key=str(envelope["id"]),
            merchant_key=str(data["mchid"]),
            out_trade_no=str(data["out_trade_no"]),
            status=TRADE_STATE[str(data["trade_state"])].value,
            amount_fen=int(amount["total"]),
            currency=str(amount.get("currency", "CNY")),
            provider_txn_id=str(data.get("transaction_id", "")),
            raw_status=event,
            signed_at=signed_at,
            nonce=nonce,
        )
    except MALFORMED as exc:
        raise NoticeRefused("malformed", f"resource lacks {exc}") from exc


def _refund_result(status: int, text: str) -> RefundResult:
    if status == 404:
        return RefundResult(ok=True, status=RefundStatus.PROCESSING)  # not there (yet)
    if status not in (200, 201):
        return RefundResult(ok=False, error=f"{status} {text[:200]}")
    try:
        data = json.loads(text)
        state = required(data, "status")
        return RefundResult(
            ok=True,
            status=REFUND_STATUS[state],
            provider_refund_id=str(data.get("refund_id", "")),
            raw_status=state,
        )
    except MALFORMED as exc:
        return RefundResult(ok=False, error=malformed(exc, text))


def _fen_field(data: dict[str, object], name: str) -> int:
    """An amount in fen the answer must carry: an integer (a float or text is refused)."""
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} is not an integer number of fen: {value!r}")
    return value


def parse_bill(text: str) -> list[StatementLine]:
    rows = text.splitlines()
    end = next((i for i, r in enumerate(rows) if r.startswith("总交易单数")), len(rows))
    lines = []
    for row in csv.DictReader(rows[:end]):
        clean = {k: (v or "").lstrip("`").strip() for k, v in row.items()}
        at = dt.datetime.strptime(clean["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        fee = _fen(clean["手续费"])
        if clean["交易状态"] == "REFUND":
            lines.append(
                StatementLine(
                    kind="refund",
                    out_trade_no=clean["商户订单号"],
                    out_refund_no=clean["商户退款单号"],
                    provider_txn_id=clean["微信退款单号"],
                    amount_fen=_fen(clean["退款金额"]),
                    fee_fen=fee,  # a refund's fee comes back: the bill shows it negative
                    at=at,
                )
            )
        else:
            lines.append(
                StatementLine(
                    kind="payment",
                    out_trade_no=clean["商户订单号"],
                    out_refund_no="",
                    provider_txn_id=clean["微信订单号"],
                    amount_fen=_fen(clean["应结订单金额"]),
                    fee_fen=fee,
                    at=at,
                )
            )
    return lines


def _fen(amount: str) -> int:
    """A bill amount in yuan (fees carry five decimals) to the fen, half up."""
    value = Decimal(amount or "0") * 100
    return int(value.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


PROVIDER = WechatPayProvider()
