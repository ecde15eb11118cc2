"""SF Express (顺丰), the Fengqiao open platform (丰桥, ``/std/service``).

Follows what SF's SDKs and the integrations built on them publish:
- Every call is a form POST of ``partnerID, requestID, serviceCode, timestamp, msgDigest,
  msgData``; ``msgDigest = Base64(MD5(urlencode(msgData + timestamp + checkWord)))`` with the
  URL-encoding of ``quote_plus``. Source: Karrio's (purplship) ``sf_express`` Settings.parse;
  the same formula in several public SF SDKs.
- Answers: ``{"apiResultCode": "A1000", "apiErrorMsg", "apiResponseID", "apiResultData"}``
  where ``apiResultData`` is a JSON *string* ``{"success", "errorCode", "errorMsg",
  "msgData"}``. Services: ``EXP_RECE_CREATE_ORDER`` (``waybillNoInfoList``),
  ``EXP_RECE_UPDATE_ORDER`` with ``dealType=2`` (cancel), ``EXP_RECE_SEARCH_ROUTES``
  (``routeResps[].routes[]`` with ``opCode``, ``remark``, ``acceptTime``, ``acceptAddress``).
- Waybill numbers: ``SF`` and 13 digits.

Not confirmed, and what this module does instead:
- route opCodes (from SF's route code table as integrations reproduce it, not read at the
  source): 50 picked up, 30/31/36 in transit, 44 out for delivery, 80 and 8000 delivered, 70
  delivery failed, 33 held (exception), 99/648 returned, 607 left at a collection point;
  other codes are kept raw and mapped to ``unknown``;
- route pushes: taken to come in the same signed envelope (serviceCode
  ``RoutePushService``, ``msgData.WaybillRoute[]``) and answered
  ``{"return_code": "0000", "return_msg": "成功"}``;
- quotes: ``EXP_RECE_QUERY_DELIVERTM`` answered with ``deliverTmDto[].fee`` (yuan) and
  ``deliverTime`` days; the real service returns times, and price tables are contractual.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote_plus

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

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
OPCODES = {
    "50": TrackStatus.PICKED_UP,
    "30": TrackStatus.IN_TRANSIT,
    "31": TrackStatus.IN_TRANSIT,
    "36": TrackStatus.IN_TRANSIT,
    "44": TrackStatus.OUT_FOR_DELIVERY,
    "607": TrackStatus.READY_FOR_PICKUP,
    "80": TrackStatus.DELIVERED,
    "8000": TrackStatus.DELIVERED,
    "70": TrackStatus.DELIVERY_FAILED,
    "33": TrackStatus.EXCEPTION,
    "99": TrackStatus.RETURNED,
    "648": TrackStatus.RETURNED,
}


def digest(msg_data: str, timestamp: str, check_word: str) -> str:
    return base64.b64encode(
        hashlib.md5(quote_plus(msg_data + timestamp + check_word).encode()).digest()  # noqa: S324
    ).decode()


def envelope(
    partner_id: str, check_word: str, service: str, data: dict[str, Any]
) -> dict[str, str]:
    msg_data = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    timestamp = str(int(time.time()))
    return {
        "partnerID": partner_id,
        "requestID": str(uuid.uuid4()),
        "serviceCode": service,
        "timestamp": timestamp,
        "msgDigest": digest(msg_data, timestamp, check_word),
        "msgData": msg_data,
    }


def open_envelope(fields: Mapping[str, str], check_word: str) -> dict[str, Any]:
    """msgData of a signed envelope; ValueError if the digest does not match."""
    expected = digest(fields["msgData"], fields["timestamp"], check_word)
    if fields.get("msgDigest") != expected:
        raise ValueError("msgDigest does not match")
    data: dict[str, Any] = json.loads(fields["msgData"])
    return data


def scan_of(waybill_no: str, route: Mapping[str, Any]) -> Scan:
    code = str(route.get("opCode", ""))
    return Scan(
        waybill_no=waybill_no,
        status=OPCODES.get(code, TrackStatus.UNKNOWN),
        code=code,
        text=str(route.get("remark", "")),
        location=str(route.get("acceptAddress", "")),
        occurred_at=dt.datetime.strptime(str(route["acceptTime"]), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=SHANGHAI
        ),
    )


class SfCarrier:
    name: str = "sf"
    settings_required: tuple[str, ...] = ("partner_id", "check_word", "monthly_card")
    settings_secret: tuple[str, ...] = ("check_word",)
    customer_key_setting: str = "partner_id"

    def _call(
        self, account: CarrierAccount, service: str, data: dict[str, Any], client: httpx.Client
    ) -> dict[str, Any]:
        """msgData of a successful answer; ValueError with SF's error otherwise."""
        fields = envelope(account.customer_key, account.settings["check_word"], service, data)
        answer = client.post(account.gateway_url, data=fields)
        answer.raise_for_status()
        body = answer.json()
        if body.get("apiResultCode") != "A1000":
            raise ValueError(f"{body.get('apiResultCode')}: {body.get('apiErrorMsg')}")
        result = json.loads(body["apiResultData"])
        if result.get("success") is False:
            raise CarrierRefused(f"{result.get('errorCode')}: {result.get('errorMsg')}")
        if result.get("success") is not True:
            raise KeyError("success")
        msg = result["msgData"]
        if not isinstance(msg, dict):
            raise KeyError("msgData")
        return msg

    def quote(self, account: CarrierAccount, parcel: Parcel, client: httpx.Client) -> Quote:
        data = {
            "businessType": "2",
            "weight": str(Decimal(parcel.weight_g) / 1000),
            "srcAddress": {"province": parcel.from_region},
            "destAddress": {"province": parcel.to_region},
        }
        try:
            msg = self._call(account, "EXP_RECE_QUERY_DELIVERTM", data, client)
            offer = msg["deliverTmDto"][0]
            return Quote(
                ok=True,
                fee_fen=int(Decimal(str(offer["fee"])) * 100),
                days=int(offer["deliverTime"]),
            )
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Quote(ok=False, error=f"{type(exc).__name__}: {exc}")

    def create_waybill(
        self, account: CarrierAccount, parcel: Parcel, client: httpx.Client
    ) -> Waybill:
        r = parcel.receiver
        data = {
            "language": "zh-CN",
            "orderId": parcel.reference,
            "monthlyCard": account.settings["monthly_card"],
            "expressTypeId": 1,
            "totalWeight": float(Decimal(parcel.weight_g) / 1000),
            "cargoDetails": [{"name": "goods", "count": 1}],
            "contactInfoList": [
                {"contactType": 1, "province": parcel.from_region, "address": "warehouse"},
                {
                    "contactType": 2,
                    "contact": r.get("name", ""),
                    "tel": r.get("phone", ""),
                    "province": r.get("province", ""),
                    "city": r.get("city", ""),
                    "county": r.get("district", ""),
                    "address": r.get("address", ""),
                },
            ],
        }
        try:
            msg = self._call(account, "EXP_RECE_CREATE_ORDER", data, client)
            numbers = [
                required(w, "waybillNo")
                for w in listed(msg, "waybillNoInfoList")
                if isinstance(w, dict) and w.get("waybillType") == 1
            ]
            if not numbers:
                raise KeyError("waybillNoInfoList: no waybill of type 1")
            return Waybill(ok=True, waybill_no=numbers[0])
        except CarrierRefused as exc:
            return Waybill(ok=False, error=str(exc), refused=True)
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Waybill(ok=False, error=f"{type(exc).__name__}: {exc}")

    def cancel(self, account: CarrierAccount, waybill_no: str, client: httpx.Client) -> bool:
        data = {"dealType": 2, "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill_no}]}
        try:
            self._call(account, "EXP_RECE_UPDATE_ORDER", data, client)
        except (httpx.HTTPError, *MALFORMED):
            return False
        return True

    def track(
        self, account: CarrierAccount, waybill_no: str, client: httpx.Client
    ) -> list[Scan] | None:
        data = {
            "language": "zh-CN",
            "trackingType": 1,
            "trackingNumber": [waybill_no],
            "methodType": 1,
        }
        try:
            msg = self._call(account, "EXP_RECE_SEARCH_ROUTES", data, client)
            return [
                scan_of(required(resp, "mailNo"), route)
                for resp in listed(msg, "routeResps")
                for route in listed(resp, "routes")
            ]
        except (httpx.HTTPError, *MALFORMED):
            return None

    def read_push(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup
    ) -> tuple[CarrierAccount, list[Scan]]:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            account = accounts(fields["partnerID"])
        except (UnicodeDecodeError, KeyError) as exc:
            raise PushRefused("malformed", "not an SF route push") from exc
        if account is None:
            raise PushRefused("unknown_account", f"no SF partner {fields['partnerID']!r}")
        try:
            data = open_envelope(fields, account.settings["check_word"])
        except ValueError as exc:
            raise PushRefused("forged", str(exc)) from exc
        try:
            routes = data["WaybillRoute"]
            return account, [scan_of(required(r, "mailno"), r) for r in routes]
        except MALFORMED as exc:
            raise PushRefused("malformed", f"route push lacks {exc}") from exc

    def reply(self, accepted: bool) -> Reply:
        if accepted:
            return Reply(
                200,
                json.dumps(
                    {"return_code": "0000", "return_msg": "成功"}, ensure_ascii=False
                ).encode(),
            )
        return Reply(
            400,
            json.dumps({"return_code": "1000", "return_msg": "失败"}, ensure_ascii=False).encode(),
        )


CARRIER = SfCarrier()
