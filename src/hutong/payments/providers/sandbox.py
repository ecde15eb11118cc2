"""hutong's own sandbox provider: a payment service with a simple, documented protocol, for
demos and tests where no real provider is wanted (docs/payments.md, "sandbox").

Wire format (ours; no provider publishes it): JSON bodies signed like Stripe's webhooks,
``Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, on requests
and on notifications alike; a notification is acknowledged with HTTP 200 and any body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

import httpx

from hutong.answers import MALFORMED, malformed
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

HEADER = "Sandbox-Signature"
STATES = {
    "pending": PaymentStatus.PENDING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "closed": PaymentStatus.CLOSED,
    "failed": PaymentStatus.FAILED,
}
REFUND_STATES = {"processing": RefundStatus.PROCESSING, "succeeded": RefundStatus.SUCCEEDED}


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str) -> int:
    """The signed timestamp; ValueError if the header is malformed or the MAC is wrong."""
    fields = dict(part.strip().partition("=")[::2] for part in header.split(","))
    timestamp = int(fields["t"])
    if not hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={fields['v1']}"):
        raise ValueError("signature does not match")
    return timestamp


class SandboxProvider:
    name: str = "sandbox"
    settings_required: tuple[str, ...] = ("merchant_id", "secret")
    settings_secret: tuple[str, ...] = ("secret",)
    merchant_key_setting: str = "merchant_id"

    def _post(
        self, account: Account, path: str, payload: dict[str, object], client: httpx.Client
    ) -> httpx.Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(account.settings["secret"], body, int(time.time())),
        }
        return client.post(account.gateway_url + path, content=body, headers=headers)

    def _get(self, account: Account, path: str, client: httpx.Client) -> httpx.Response:
        url = f"{account.gateway_url}{path}"
        params = {"merchant_id": account.merchant_key}
        signed = sign(account.settings["secret"], path.encode(), int(time.time()))
        return client.get(url, params=params, headers={HEADER: signed})

    def start(self, account: Account, request: PayRequest, client: httpx.Client) -> PayStarted:
        payload: dict[str, object] = {
            "merchant_id": account.merchant_key,
            "out_trade_no": request.out_trade_no,
            "amount_fen": request.amount_fen,
            "currency": request.currency,
            "subject": request.subject,
            "notify_url": account.notify_url,
            "expires_at": request.expires_at.isoformat(),
        }
        try:
            answer = self._post(account, "/v1/payments", payload, client)
        except httpx.HTTPError as exc:
            return PayStarted(ok=False, error=f"{type(exc).__name__}: {exc}")
        if answer.status_code != 200:
            return PayStarted(ok=False, error=f"{answer.status_code} {answer.text[:200]}")
        try:
            data = answer.json()
            return PayStarted(
                ok=True, pay_url=str(data["pay_url"]), provider_txn_id=str(data["txn_id"])
            )
        except MALFORMED as exc:
            return PayStarted(ok=False, error=malformed(exc, answer.text))

    def read_notice(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup, hint: str = ""
    ) -> Notice:
        try:
            data = json.loads(body)
            merchant_id = str(data["merchant_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NoticeRefused("malformed", "not a sandbox notification") from exc
        account = accounts(merchant_id)
        if account is None:
            raise NoticeRefused("unknown_account", f"no sandbox account {merchant_id}")
        try:
            signed = verify(account.settings["secret"], body, _header(headers, HEADER))
        except (ValueError, KeyError) as exc:
            raise NoticeRefused("forged", "Sandbox-Signature does not verify") from exc
        kind, _, event = str(data.get("type", "")).partition(".")
        try:
            status = REFUND_STATES[event].value if kind == "refund" else STATES[event].value
            amount = int(data["amount_fen"])
        except (KeyError, ValueError) as exc:
            raise NoticeRefused("malformed", f"unknown type {data.get('type')!r}") from exc
        return Notice(
            kind="refund" if kind == "refund" else "payment",
            dedupe_key=str(data["id"]),
            merchant_key=merchant_id,
            out_trade_no=str(data["out_trade_no"]),
            out_refund_no=str(data.get("out_refund_no") or ""),
            status=status,
            amount_fen=amount,
            currency=str(data.get("currency", "CNY")),
            provider_txn_id=str(data.get("refund_id") or data.get("txn_id") or ""),
            raw_status=str(data["type"]),
            signed_at=dt.datetime.fromtimestamp(signed, dt.UTC),
        )

    def reply(self, accepted: bool) -> Reply:
        if accepted:
            return Reply(200, b'{"received":true}', "application/json")
        return Reply(400, b'{"received":false}', "application/json")

    def query(
        self,
        account: Account,
        out_trade_no: str,
        client: httpx.Client,
        placed_at: dt.datetime | None = None,
    ) -> QueryResult:
        try:
            answer = self._get(account, f"/v1/payments/{out_trade_no}", client)
        except httpx.HTTPError as exc:
            return QueryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if answer.status_code == 404:
            return QueryResult(ok=True, found=False)
        if answer.status_code != 200:
            return QueryResult(ok=False, error=f"{answer.status_code} {answer.text[:200]}")
        try:
            data = answer.json()
            return QueryResult(
                ok=True,
                found=True,
                status=STATES[data["state"]],
                amount_fen=int(data["amount_fen"]),
                provider_txn_id=str(data["txn_id"]),
                raw_status=str(data["state"]),
            )
        except MALFORMED as exc:
            return QueryResult(ok=False, error=malformed(exc, answer.text))

    def refund(self, account: Account, call: RefundCall, client: httpx.Client) -> RefundResult:
        payload: dict[str, object] = {
            "merchant_id": account.merchant_key,
            "out_trade_no": call.out_trade_no,
            "out_refund_no": call.out_refund_no,
            "amount_fen": call.amount_fen,
            "reason": call.reason,
            "notify_url": account.notify_url,
        }
        try:
            answer = self._post(account, "/v1/refunds", payload, client)
        except httpx.HTTPError as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return self._refund_result(answer)

    def query_refund(
        self, account: Account, call: RefundCall, client: httpx.Client
    ) -> RefundResult:
        try:
            answer = self._get(account, f"/v1/refunds/{call.out_refund_no}", client)
        except httpx.HTTPError as exc:
            return RefundResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return self._refund_result(answer)

    @staticmethod
    def _refund_result(answer: httpx.Response) -> RefundResult:
        if answer.status_code != 200:
            return RefundResult(ok=False, error=f"{answer.status_code} {answer.text[:200]}")
        try:
            data = answer.json()
            return RefundResult(
                ok=True,
                status=REFUND_STATES[data["state"]],
                provider_refund_id=str(data["refund_id"]),
                raw_status=str(data["state"]),
            )
        except MALFORMED as exc:
            return RefundResult(ok=False, error=malformed(exc, answer.text))

    def statement(
        self, account: Account, day: dt.date, client: httpx.Client
    ) -> list[StatementLine]:
        answer = self._get(account, f"/v1/statements/{day.isoformat()}", client)
        answer.raise_for_status()
        return [
            StatementLine(
                kind=line["kind"],
                out_trade_no=line["out_trade_no"],
                out_refund_no=line.get("out_refund_no", ""),
                provider_txn_id=line["txn_id"],
                amount_fen=int(line["amount_fen"]),
                fee_fen=int(line["fee_fen"]),
                at=dt.datetime.fromisoformat(line["at"]),
            )
            for line in answer.json()["lines"]
        ]


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by name, whatever its case (Starlette's headers are case-insensitive already)."""
    value = headers.get(name) or headers.get(name.lower())
    if value is None:
        raise KeyError(name)
    return value


PROVIDER = SandboxProvider()
