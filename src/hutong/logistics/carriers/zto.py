"""ZTO Express (中通快递), the ZTO open platform (japi.zto.com).

Follows what ZTO's open-platform SDKs publish:
- Calls are JSON POSTs to ``<gateway>/<api name>`` with headers ``x-appKey`` and
  ``x-dataDigest = Base64(MD5(body + appSecret))``. Source: the ZTO open platform's
  "签名说明" as its Java/PHP SDKs implement it (``ZopClient``).
- Answers ``{"status": true|false, "message", "statusCode", "result"}``. APIs:
  ``zto.open.createOrder`` (``result.billCode``), ``zto.open.cancelPreOrder``,
  ``zto.merchant.waybill.track.query`` (``result[]`` of ``scanType``, ``scanDate`` in ms,
  ``desc``, ``scanSite.name``).
- Waybill numbers: 14 digits starting with 7.

Not confirmed, and what this module does instead:
- ``scanType`` values are read in their Chinese form (收件 picked up, 发件/到件 in transit,
  派件 out for delivery, 签收 delivered, 问题件 exception, 退件 returned, 第三方代派 left at a
  collection point); the English forms some API versions use (GOT, DEPARTURE, ARRIVAL,
  DISPATCH, SIGNED, PROBLEM, RETURN) map the same way;
- track pushes: taken to be signed like calls (``x-dataDigest`` over the body with the same
  secret) and answered ``{"status": true, "message": "成功", "statusCode": "000"}``;
- quotes: ``zto.open.getEstimatePrice`` answering ``result.price`` (yuan) and
  ``result.days``; price tables are contractual in reality.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from hutong.answers import MALFORMED, required
from hutong.logistics.protocol import (
    AccountLookup,
    CarrierAccount,
    CarrierRefused,
    Parcel,
    PushRefused,
    Quote,
    Reply,
    Scan,
    TrackStatus,
    Waybill,
)

SCAN_TYPES = {
    "收件": TrackStatus.PICKED_UP,
    "GOT": TrackStatus.PICKED_UP,
    "发件": TrackStatus.IN_TRANSIT,
    "DEPARTURE": TrackStatus.IN_TRANSIT,
    "到件": TrackStatus.IN_TRANSIT,
    "ARRIVAL": TrackStatus.IN_TRANSIT,
    "派件": TrackStatus.OUT_FOR_DELIVERY,
    "DISPATCH": TrackStatus.OUT_FOR_DELIVERY,
    "第三方代派": TrackStatus.READY_FOR_PICKUP,
    "签收": TrackStatus.DELIVERED,
    "SIGNED": TrackStatus.DELIVERED,
    "问题件": TrackStatus.EXCEPTION,
    "PROBLEM": TrackStatus.EXCEPTION,
    "退件": TrackStatus.RETURNED,
    "RETURN": TrackStatus.RETURNED,
}


def data_digest(body: str, secret: str) -> str:
    return base64.b64encode(hashlib.md5((body + secret).encode()).digest()).decode()  # noqa: S324


def scan_of(waybill_no: str, item: Mapping[str, Any]) -> Scan:
    code = str(item.get("scanType", ""))
    site = item.get("scanSite") or {}
    return Scan(
        waybill_no=waybill_no,
        status=SCAN_TYPES.get(code, TrackStatus.UNKNOWN),
        code=code,
        text=str(item.get("desc", "")),
        location=str(site.get("name", "")) if isinstance(site, dict) else "",
        occurred_at=dt.datetime.fromtimestamp(int(item["scanDate"]) / 1000, dt.UTC),
    )


class ZtoCarrier:
    name: str = "zto"
    settings_required: tuple[str, ...] = ("app_key", "app_secret")
    settings_secret: tuple[str, ...] = ("app_secret",)
    customer_key_setting: str = "app_key"

    def _call(
        self, account: CarrierAccount, api: str, data: dict[str, Any], client: httpx.Client
    ) -> Any:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "x-appKey": account.customer_key,
            "x-dataDigest": data_digest(body, account.settings["app_secret"]),
        }
        answer = client.post(f"{account.gateway_url}/{api}", content=body.encode(), headers=headers)
        answer.raise_for_status()
        result = answer.json()
        if result.get("status") is False:
            raise CarrierRefused(f"{result.get('statusCode')}: {result.get('message')}")
        if result.get("status") is not True:
            raise KeyError("status")
        return result.get("result")  # null for calls that answer nothing but their status

    def quote(self, account: CarrierAccount, parcel: Parcel, client: httpx.Client) -> Quote:
        data = {
            "sender": {"prov": parcel.from_region},
            "receiver": {"prov": parcel.to_region},
            "weight": str(Decimal(parcel.weight_g) / 1000),
        }
        try:
            result = self._call(account, "zto.open.getEstimatePrice", data, client)
            return Quote(
                ok=True, fee_fen=int(Decimal(str(result["price"])) * 100), days=int(result["days"])
            )
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Quote(ok=False, error=f"{type(exc).__name__}: {exc}")

    def create_waybill(
        self, account: CarrierAccount, parcel: Parcel, client: httpx.Client
    ) -> Waybill:
        r = parcel.receiver
        data = {
            "partnerType": "2",
            "orderType": "1",
            "partnerOrderCode": parcel.reference,
            "sender": {"prov": parcel.from_region},
            "receiver": {
                "name": r.get("name", ""),
                "mobile": r.get("phone", ""),
                "prov": r.get("province", ""),
                "city": r.get("city", ""),
                "county": r.get("district", ""),
                "address": r.get("address", ""),
            },
            "summaryInfo": {"weight": str(Decimal(parcel.weight_g) / 1000)},
        }
        try:
            result = self._call(account, "zto.open.createOrder", data, client)
            return Waybill(ok=True, waybill_no=required(result, "billCode"))
        except CarrierRefused as exc:
            return Waybill(ok=False, error=str(exc), refused=True)
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Waybill(ok=False, error=f"{type(exc).__name__}: {exc}")

    def cancel(self, account: CarrierAccount, waybill_no: str, client: httpx.Client) -> bool:
        try:
            self._call(
                account,
                "zto.open.cancelPreOrder",
                {"billCode": waybill_no, "cancelType": "1"},
                client,
            )
        except (httpx.HTTPError, *MALFORMED):
            return False
        return True

    def track(
        self, account: CarrierAccount, waybill_no: str, client: httpx.Client
    ) -> list[Scan] | None:
        try:
            result = self._call(
                account, "zto.merchant.waybill.track.query", {"billCode": waybill_no}, client
            )
            if not isinstance(result, list):
                raise KeyError("result")
            return [scan_of(waybill_no, item) for item in result]
        except (httpx.HTTPError, *MALFORMED):
            return None

    def read_push(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup
    ) -> tuple[CarrierAccount, list[Scan]]:
        key = headers.get("x-appKey") or headers.get("x-appkey") or ""
        account = accounts(key)
        if account is None:
            raise PushRefused("unknown_account", f"no ZTO app {key!r}")
        text = body.decode("utf-8", "replace")
        given = headers.get("x-dataDigest") or headers.get("x-datadigest") or ""
        if given != data_digest(text, account.settings["app_secret"]):
            raise PushRefused("forged", "x-dataDigest does not match")
        try:
            data = json.loads(text)
            return account, [scan_of(str(t["billCode"]), t) for t in data["traces"]]
        except MALFORMED as exc:
            raise PushRefused("malformed", f"track push lacks {exc}") from exc

    def reply(self, accepted: bool) -> Reply:
        body = {
            "status": accepted,
            "message": "成功" if accepted else "失败",
            "statusCode": "000" if accepted else "S01",
        }
        return Reply(200 if accepted else 400, json.dumps(body, ensure_ascii=False).encode())


CARRIER = ZtoCarrier()
