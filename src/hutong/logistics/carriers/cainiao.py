"""Cainiao (菜鸟), the Cainiao LINK gateway.

Follows what Cainiao LINK's SDKs and integrations publish:
- Calls are form POSTs of ``msg_type, logistic_provider_id, to_code, logistics_interface,
  data_digest`` where ``logistics_interface`` is the request as a JSON string and
  ``data_digest = Base64(MD5(logistics_interface + appSecret))``. Source: Cainiao LINK's
  "签名规则" as its Java SDK and many integrations implement it.
- Answers are JSON with ``success`` ("true"/"false"), ``errorCode``, ``errorMsg``.
  ``TMS_WAYBILL_GET`` gives ``waybillCloudPrintResponseList[].waybillCode``;
  ``TMS_WAYBILL_DISCARD`` gives ``discardResult``. Traces come as ``logisticsTrace`` with
  ``logisticsTraceDetailList[]`` of ``time`` (ms), ``logisticsStatus``,
  ``subLogisticsStatus``, ``desc``, ``areaName`` (the field names and codes of Cainiao's
  published trace samples).
- Status codes: WAIT_ACCEPT, ACCEPT, TRANSPORT, DELIVERING, STA_INBOUND (a 驿站), AGENT_SIGN,
  STA_SIGN, SIGN, FAILED, REJECT, RETURN.

Not confirmed, and what this module does instead:
- the msg_type of the trace query (``CNTECH_LV_TRACE_QUERY``) and of pushes
  (``LOGISTICS_TRACE_PUSH``), and the push answer ``{"success": "true"}``;
- waybill numbers: ``LP`` and 14 digits (Cainiao's own network numbers; on Taobao a Cainiao
  waybill is usually a partner carrier's number);
- quotes: msg_type ``CNTECH_LV_PRICE_QUERY`` answering ``price`` (yuan) and ``days``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from hutong.answers import MALFORMED, listed, required
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

STATUSES = {
    "WAIT_ACCEPT": TrackStatus.INFO_RECEIVED,
    "ACCEPT": TrackStatus.PICKED_UP,
    "TRANSPORT": TrackStatus.IN_TRANSIT,
    "DELIVERING": TrackStatus.OUT_FOR_DELIVERY,
    "STA_INBOUND": TrackStatus.READY_FOR_PICKUP,
    "AGENT_SIGN": TrackStatus.DELIVERED,
    "STA_SIGN": TrackStatus.DELIVERED,
    "SIGN": TrackStatus.DELIVERED,
    "FAILED": TrackStatus.DELIVERY_FAILED,
    "REJECT": TrackStatus.RETURNED,
    "RETURN": TrackStatus.RETURNED,
}


def data_digest(content: str, secret: str) -> str:
    return base64.b64encode(hashlib.md5((content + secret).encode()).digest()).decode()  # noqa: S324


def scan_of(waybill_no: str, item: Mapping[str, Any]) -> Scan:
    code = str(item.get("logisticsStatus", ""))
    sub = str(item.get("subLogisticsStatus", ""))
    status = STATUSES.get(sub) or STATUSES.get(code, TrackStatus.UNKNOWN)
    return Scan(
        waybill_no=waybill_no,
        status=status,
        code=f"{code}/{sub}" if sub and sub != code else code,
        text=str(item.get("desc", "")),
        location=str(item.get("areaName", "")),
        occurred_at=dt.datetime.fromtimestamp(int(item["time"]) / 1000, dt.UTC),
    )


class CainiaoCarrier:
    name: str = "cainiao"
    settings_required: tuple[str, ...] = ("logistic_provider_id", "app_secret", "to_code")
    settings_secret: tuple[str, ...] = ("app_secret",)
    customer_key_setting: str = "logistic_provider_id"

    def _call(
        self, account: CarrierAccount, msg_type: str, data: dict[str, Any], client: httpx.Client
    ) -> dict[str, Any]:
        content = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        fields = {
            "msg_type": msg_type,
            "logistic_provider_id": account.customer_key,
            "to_code": account.settings["to_code"],
            "logistics_interface": content,
            "data_digest": data_digest(content, account.settings["app_secret"]),
        }
        answer = client.post(account.gateway_url, data=fields)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        success = str(result.get("success")).lower()
        if success == "false":
            raise CarrierRefused(f"{result.get('errorCode')}: {result.get('errorMsg')}")
        if success != "true":
            raise KeyError("success")
        return result

    def quote(self, account: CarrierAccount, parcel: Parcel, client: httpx.Client) -> Quote:
        data = {
            "senderProvince": parcel.from_region,
            "receiverProvince": parcel.to_region,
            "weight": parcel.weight_g,
        }
        try:
            result = self._call(account, "CNTECH_LV_PRICE_QUERY", data, client)
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
            "cpCode": "CAINIAO",
            "sender": {"address": {"province": parcel.from_region}},
            "tradeOrderInfoDtos": [
                {
                    "objectId": parcel.reference,
                    "orderInfo": {"orderChannelsType": "TB", "tradeOrderList": [parcel.reference]},
                    "packageInfo": {"id": parcel.reference, "weight": parcel.weight_g},
                    "recipient": {
                        "name": r.get("name", ""),
                        "mobile": r.get("phone", ""),
                        "address": {
                            "province": r.get("province", ""),
                            "city": r.get("city", ""),
                            "district": r.get("district", ""),
                            "detail": r.get("address", ""),
                        },
                    },
                }
            ],
        }
        try:
            result = self._call(account, "TMS_WAYBILL_GET", data, client)
            printed = result["waybillCloudPrintResponseList"][0]
            return Waybill(ok=True, waybill_no=required(printed, "waybillCode"))
        except CarrierRefused as exc:
            return Waybill(ok=False, error=str(exc), refused=True)
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Waybill(ok=False, error=f"{type(exc).__name__}: {exc}")

    def cancel(self, account: CarrierAccount, waybill_no: str, client: httpx.Client) -> bool:
        try:
            result = self._call(
                account,
                "TMS_WAYBILL_DISCARD",
                {"cpCode": "CAINIAO", "waybillCode": waybill_no},
                client,
            )
        except (httpx.HTTPError, *MALFORMED):
            return False
        return result.get("discardResult") is True or result.get("discardResult") == "true"

    def track(
        self, account: CarrierAccount, waybill_no: str, client: httpx.Client
    ) -> list[Scan] | None:
        try:
            result = self._call(account, "CNTECH_LV_TRACE_QUERY", {"mailNo": waybill_no}, client)
            trace = result["logisticsTrace"]
            details = listed(trace, "logisticsTraceDetailList")
            return [scan_of(waybill_no, item) for item in details]
        except (httpx.HTTPError, *MALFORMED):
            return None

    def read_push(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup
    ) -> tuple[CarrierAccount, list[Scan]]:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            account = accounts(fields["logistic_provider_id"])
        except (UnicodeDecodeError, KeyError) as exc:
            raise PushRefused("malformed", "not a Cainiao push") from exc
        if account is None:
            raise PushRefused(
                "unknown_account", f"no Cainiao resource {fields['logistic_provider_id']!r}"
            )
        content = fields.get("logistics_interface", "")
        if fields.get("data_digest") != data_digest(content, account.settings["app_secret"]):
            raise PushRefused("forged", "data_digest does not match")
        try:
            data = json.loads(content)
            return account, [
                scan_of(str(data["mailNo"]), t) for t in data["logisticsTraceDetailList"]
            ]
        except MALFORMED as exc:
            raise PushRefused("malformed", f"push lacks {exc}") from exc

    def reply(self, accepted: bool) -> Reply:
        body = {"success": "true"} if accepted else {"success": "false", "errorCode": "S01"}
        return Reply(200 if accepted else 400, json.dumps(body).encode())


CARRIER = CainiaoCarrier()
