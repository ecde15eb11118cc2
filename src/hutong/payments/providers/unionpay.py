"""UnionPay online payments (银联全渠道 ACP), version 5.1.0, ``signMethod=01``.

Follows what the ACP SDKs do (their code is the published reference; no official page was
read, so every detail below is marked with where it comes from):

- Signing (ACP Java ``AcpService.sign`` / ``validate``, PHP demo ``BackReceive``): the fields
  but ``signature``, sorted by name and joined as ``k=v&...``; the SHA-256 of that string as
  lowercase hex; SHA256withRSA over those hex characters; base64 into ``signature``. A request
  names the merchant's signing certificate by ``certId`` (its serial number in decimal).
- Verifying: a UnionPay message carries its signing certificate in ``signPubKeyCert`` (PEM);
  it must chain to the UnionPay root configured for the account (the SDKs check the CFCA
  middle and root certificates), be within its validity, and verify the signature.
- Consume by QR code (``txnType=01, txnSubType=07, bizType=000000, channelType=08``) answered
  with ``qrCode``; query (``txnType=00``) by ``orderId`` + ``txnTime`` answered with
  ``origRespCode``; refund (``txnType=04``) of ``origQryId``. Amounts ``txnAmt`` in fen,
  ``currencyCode=156``, times ``txnTime`` as ``yyyyMMddHHmmss`` (Beijing). ``respCode``
  ``00`` is success; ``34`` "no such transaction".
- Notifications (``backUrl``): a form POST of the same fields; ``respCode=00`` with
  ``txnType`` 01 (paid) or 04 (refunded). The official demo asks merchants to confirm funds
  transactions by query, which the status sync does.

Not confirmed, and what this module does instead:
- the answer UnionPay expects from ``backUrl`` and its re-send schedule: HTTP 200 with the
  body ``ok`` accepts; anything else is re-sent (the emulator re-sends at 1, 2, 4, 8, 16 and
  32 minutes);
- the settlement file (``txnType=76``: a base64, deflated zip of fixed-width records in the
  SDK): hutong's emulator serves ``fileContent`` as base64 of a UTF-8 CSV with the columns
  ``orderId, origOrderId, queryId, txnType, txnAmt, fee, txnTime``, which ``statement``
  reads; a real file needs its own parser before reconciliation against production;
- notifications carry no nonce; ``queryId`` + ``txnType`` is the dedupe key and ``txnTime``
  is not checked for staleness (it is the transaction's time, not the send time).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Mapping
from urllib.parse import parse_qsl

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

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
VERSION = "5.1.0"
RETRY_SCHEDULE = [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0]
BACK_TRANS = "/gateway/api/backTransReq.do"
QUERY_TRANS = "/gateway/api/queryTrans.do"
FILE_TRANS = "/gateway/api/fileTransReq.do"
# ACP's answer codes for "the outcome is not known yet": query again later, never read as failed
UNSETTLED = frozenset({"03", "04", "05"})
# a queried transaction's origRespCode; any other code is a failure
ORIGINAL_STATUS = {"00": PaymentStatus.SUCCEEDED} | dict.fromkeys(UNSETTLED, PaymentStatus.PENDING)


# -- pure message building and reading ----------------------------------------------------------
def sign_content(fields: Mapping[str, str]) -> bytes:
    """What is signed: the lowercase hex SHA-256 of the sorted ``k=v&...`` (no ``signature``)."""
    joined = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "signature")
    return hashlib.sha256(joined.encode("utf-8")).hexdigest().encode()


def sign(fields: dict[str, str], private_key: str) -> dict[str, str]:
    signed = dict(fields)
    signed["signature"] = crypto.rsa_sign(crypto.load_private(private_key), sign_content(signed))
    return signed


def cert_id(cert_pem: str) -> str:
    return str(x509.load_pem_x509_certificate(cert_pem.encode()).serial_number)


def verify(fields: Mapping[str, str], root_pem: str, now: dt.datetime | None = None) -> bool:
    """True if ``signPubKeyCert`` chains to ``root_pem``, is valid now, and signed ``fields``."""
    try:
        cert = x509.load_pem_x509_certificate(fields["signPubKeyCert"].encode())
        root = x509.load_pem_x509_certificate(root_pem.encode())
        cert.verify_directly_issued_by(root)
    except (KeyError, ValueError, TypeError, Exception):
        return False
    moment = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        return False
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    return crypto.rsa_verify(public, sign_content(fields), fields.get("signature", ""))


def txn_time(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


def parse_form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body, keep_blank_values=True, strict_parsing=True))


class UnionPayProvider:
    name: str = "unionpay"
    settings_required: tuple[str, ...] = ("mer_id", "sign_private_key", "sign_cert", "root_cert")
    settings_secret: tuple[str, ...] = ("sign_private_key",)
    merchant_key_setting: str = "mer_id"

    def _common(self, account: Account, txn_type: str, sub: str, biz: str) -> dict[str, str]:
        return {
            "version": VERSION,
            "encoding": "UTF-8",
            "signMethod": "01",
            "txnType": txn_type,
            "txnSubType": sub,
            "bizType": biz,
            "accessType": "0",
            "channelType": "08",
            "merId": account.merchant_key,
            "certId": cert_id(account.settings["sign_cert"]),
        }

    def _send(
        self, account: Account, path: str, fields: dict[str, str], client: httpx.Client
    ) -> dict[str, str]:
        """A verified answer; raises httpx.HTTPError or ValueError (caught by callers)."""
        signed = sign(fields, account.settings["sign_private_key"])
        answer = client.post(account.gateway_url + path, data=signed)
        answer.raise_for_status()
        data = parse_form(answer.text)
        if not verify(data, account.settings["root_cert"]):
            raise ValueError("answer not signed by UnionPay")
        return data

    def start(self, account: Account, request: PayRequest, client: httpx.Client) -> PayStarted:
        fields = self._common(account, "01", "07", "000000")
        fields |= {
            "orderId": request.out_trade_no,
            "txnTime": txn_time(request.placed_at or dt.datetime.now(dt.UTC)),
            "txnAmt": str(request.amount_fen),
            "currencyCode": "156",
            "backUrl": account.notify_url,
            "payTimeout": txn_time(request.expires_at),
        }
        try:
            data = self._send(account, BACK_TRANS, fields, client)
        except (httpx.HTTPError, ValueError) as exc:
            return PayStarted(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("respCode") != "00":
            return PayStarted(ok=False, error=f"{data.get('respCode')}: {data.get('respMsg')}")
        try:
            return PayStarted(ok=True, pay_url=required(data, "qrCode"))
        except MALFORMED as exc:
            return PayStarted(ok=False, error=malformed(exc))

    def read_notice(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup, hint: str = ""
    ) -> Notice:
        try:
            fields = parse_form(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise NoticeRefused("malformed", "not a form body") from exc
        account = accounts(fields.get("merId", ""))
        if account is None:
            raise NoticeRefused("unknown_account", f"no unionpay merchant {fields.get('merId')!r}")
        if not verify(fields, account.settings["root_cert"]):
            raise NoticeRefused("forged", "signature or signPubKeyCert does not verify")
        try:
            txn = fields["txnType"]
            ok = fields["respCode"] == "00"
            if txn == "04":
                return Notice(
                    kind="refund",
                    dedupe_key=f"{fields['queryId']}:04",
                    merchant_key=fields["merId"],
                    out_trade_no=fields["origOrderId"],
                    out_refund_no=fields["orderId"],
                    status=(RefundStatus.SUCCEEDED if ok else RefundStatus.FAILED).value,
                    amount_fen=int(fields["txnAmt"]),
                    provider_txn_id=fields["queryId"],
                    raw_status=fields["respCode"],
                )
            return Notice(
                kind="payment",
                dedupe_key=f"{fields['queryId']}:{txn}",
                merchant_key=fields["merId"],
                out_trade_no=fields["orderId"],
                status=(PaymentStatus.SUCCEEDED if ok else PaymentStatus.FAILED).value,
                amount_fen=int(fields["txnAmt"]),
                provider_txn_id=fields["queryId"],
                raw_status=fields["respCode"],
            )
        except (KeyError, ValueError) as exc:
            raise NoticeRefused("malformed", f"notification lacks {exc}") from exc

    def reply(self, accepted: bool) -> Reply:
        return Reply(200, b"ok") if accepted else Reply(400, b"fail")

    def query(
        self,
        account: Account,
        out_trade_no: str,
        client: httpx.Client,
        placed_at: dt.datetime | None = None,
    ) -> QueryResult:
        return self._query(account, out_trade_no, placed_at, client)

    def _query(
        self, account: Account, order_id: str, placed: dt.datetime | None, client: httpx.Client
    ) -> QueryResult:
        """ACP finds a transaction by its orderId and the txnTime it was sent with."""
        if placed is None:
            return QueryResult(ok=False, error="a UnionPay query needs the original txnTime")
        fields = self._common(account, "00", "00", "000000")
        fields |= {"orderId": order_id, "txnTime": txn_time(placed)}
        try:
            data = self._send(account, QUERY_TRANS, fields, client)
        except (httpx.HTTPError, ValueError) as exc:
            return QueryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if data.get("respCode") == "34":
            return QueryResult(ok=True, found=False)
        if data.get("respCode") != "00":
            return QueryResult(ok=False, error=f"{data.get('respCode')}: {data.get('respMsg')}")
        try:
            orig = required(data, "origRespCode")
            return QueryResult(
                ok=True,
                found=True,
                status=ORIGINAL_STATUS.get(orig, PaymentStatus.FAILED),
                amount_fen=int(required(data, "txnAmt")),
                provider_txn_id=data.get("queryId", ""),
                raw_status=orig,
            )
        except MALFORMED as exc:
            return QueryResult(ok=False, error=malformed(exc))

    def refund(self, account: Account, call: RefundCall, client: httpx.Client) -> RefundResult:
        paid = self._query(account, call.out_trade_no, call.payment_placed_at, client)
        if not paid.ok or not paid.provider_txn_id:
            return RefundResult(ok=False, error=paid.error or "payment has no queryId yet")
        fields = self._common(account, "04", "00", "000000")
        fields |= {
            "orderId": call.out_refund_no,
            "origQryId": paid.provider_txn_id,
            "txnTime": txn_time(call.refund_placed_at or dt.datetime.now(dt.UTC)),
            "txnAmt": str(call.amount_fen),
            "currencyCode": "156",
            "backUrl": account.notify_url,
        }
        try:
            data = self._send(account, BACK_TRANS, fields, client)
        except (httpx.HTTPError, ValueError) as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        code = data.get("respCode")
        if not code:
            return RefundResult(ok=False, error=malformed(KeyError("respCode")))
        if code in UNSETTLED or code == "12":
            # the outcome is not known yet (12: "duplicate", the refund may exist): ask later
            return RefundResult(ok=True, status=RefundStatus.PROCESSING, raw_status=code)
        if code != "00":
            return RefundResult(
                ok=True,
                status=RefundStatus.FAILED,
                raw_status=data.get("respCode", ""),
                error=f"{data.get('respCode')}: {data.get('respMsg')}",
            )
        # accepted: the outcome comes by notification (or query)
        return RefundResult(ok=True, status=RefundStatus.PROCESSING, raw_status="00")

    def query_refund(
        self, account: Account, call: RefundCall, client: httpx.Client
    ) -> RefundResult:
        found = self._query(account, call.out_refund_no, call.refund_placed_at, client)
        if not found.ok:
            return RefundResult(ok=False, error=found.error)
        if not found.found or found.status is PaymentStatus.PENDING:
            return RefundResult(ok=True, status=RefundStatus.PROCESSING)
        status = (
            RefundStatus.SUCCEEDED
            if found.status is PaymentStatus.SUCCEEDED
            else RefundStatus.FAILED
        )
        return RefundResult(ok=True, status=status, provider_refund_id=found.provider_txn_id)

    def statement(
        self, account: Account, day: dt.date, client: httpx.Client
    ) -> list[StatementLine]:
        fields = self._common(account, "76", "01", "000000")
        fields |= {
            "settleDate": day.strftime("%m%d"),
            "fileType": "00",
            "txnTime": txn_time(dt.datetime.now(dt.UTC)),
        }
        data = self._send(account, FILE_TRANS, fields, client)
        if data.get("respCode") != "00":
            raise ValueError(f"file not available: {data.get('respCode')}")
        text = base64.b64decode(data["fileContent"]).decode("utf-8")
        lines = []
        for row in csv.DictReader(io.StringIO(text)):
            refund = row["txnType"] == "04"
            lines.append(
                StatementLine(
                    kind="refund" if refund else "payment",
                    out_trade_no=row["origOrderId"] if refund else row["orderId"],
                    out_refund_no=row["orderId"] if refund else "",
                    provider_txn_id=row["queryId"],
                    amount_fen=int(row["txnAmt"]),
                    fee_fen=int(row["fee"]),
                    at=dt.datetime.strptime(row["txnTime"], "%Y%m%d%H%M%S").replace(
                        tzinfo=SHANGHAI
                    ),
                )
            )
        return lines


PROVIDER = UnionPayProvider()
