"""JD Logistics (京东物流), the JD Logistics open platform (LOP, ``/ecap/v1/...``).

Follows what JD's open-platform SDKs publish for LOP's "md5-salt" signing:
- Calls are JSON POSTs to ``<gateway><path>`` with the query parameters ``app_key,
  access_token, timestamp (yyyy-MM-dd HH:mm:ss), v=2.0, sign, algorithm=md5-salt`` and
  ``sign = lower-hex MD5(appSecret + "access_token" + token + "app_key" + appKey + "method" +
  path + "param_json" + body + "timestamp" + timestamp + "v" + "2.0" + appSecret)``.
  Source: JD LOP's Java SDK (``lop-opensdk``, ``MD5SaltSigner``) as integrations reproduce
  it; read through those, not at jos.jd.com.
- Answers ``{"code": 0, "msg", "data"}``; ``/ecap/v1/orders/create`` gives
  ``data.waybillCode``; ``/ecap/v1/orders/cancel``; ``/ecap/v1/orders/trace/query`` gives
  ``data.traceDetails[]`` with ``operationTitle``, ``operationRemark``, ``operationTime``
  (ms).
- Waybill numbers: ``JDV`` and 12 digits.

Not confirmed, and what this module does instead:
- trace titles are read in Chinese (揽收 picked up; 分拣/发货/运输 in transit; 配送 out for
  delivery; 自提点 ready for pickup; 妥投 delivered; 拒收 returned; 异常 exception);
- trace pushes: signed with the same md5-salt over the body (method ``/push/trace``), the
  timestamp and sign in the headers ``x-lop-timestamp`` and ``x-lop-sign``, answered
  ``{"code": 0, "msg": "success"}``;
- quotes: ``/ecap/v1/orders/precheck`` answering ``data.freightPre`` (yuan) and
  ``data.deliveryDays``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

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
TITLES = {
    "揽收": TrackStatus.PICKED_UP,
    "分拣": TrackStatus.IN_TRANSIT,
    "发货": TrackStatus.IN_TRANSIT,
    "运输": TrackStatus.IN_TRANSIT,
    "配送": TrackStatus.OUT_FOR_DELIVERY,
    "自提点": TrackStatus.READY_FOR_PICKUP,
    "妥投": TrackStatus.DELIVERED,
    "拒收": TrackStatus.RETURNED,
    "异常": TrackStatus.EXCEPTION,
}


def sign(secret: str, token: str, app_key: str, path: str, body: str, timestamp: str) -> str:
    content = (
        f"{secret}access_token{token}app_key{app_key}method{path}param_json{body}"
        f"timestamp{timestamp}v2.0{secret}"
    )
    return hashlib.md5(content.encode()).hexdigest()  # noqa: S324


def signed_query(
    account: CarrierAccount, path: str, body: str, timestamp: str | None = None
) -> dict[str, str]:
    s = account.settings
    timestamp = timestamp or dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "app_key": s["app_key"],
        "access_token": s["access_token"],
        "timestamp": timestamp,
        "v": "2.0",
        "algorithm": "md5-salt",
        "sign": sign(s["app_secret"], s["access_token"], s["app_key"], path, body, timestamp),
    }


def status_of(title: str) -> TrackStatus:
    return next((status for key, status in TITLES.items() if key in title), TrackStatus.UNKNOWN)


def scan_of(waybill_no: str, item: Mapping[str, Any]) -> Scan:
    title = str(item.get("operationTitle", ""))
    return Scan(
        waybill_no=waybill_no,
        status=status_of(title),
        code=title,
        text=str(item.get("operationRemark", "")),
        location=str(item.get("operationSite", "")),
        occurred_at=dt.datetime.fromtimestamp(int(item["operationTime"]) / 1000, dt.UTC),
    )


class JdCarrier:
    name: str = "jd"
    settings_required: tuple[str, ...] = ("customer_code", "app_key", "app_secret", "access_token")
    settings_secret: tuple[str, ...] = ("app_secret", "access_token")
    customer_key_setting: str = "customer_code"

    def _call(
        self, account: CarrierAccount, path: str, data: dict[str, Any], client: httpx.Client
    ) -> Any:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        url = f"{account.gateway_url}{path}?{urlencode(signed_query(account, path, body))}"
        answer = client.post(
            url, content=body.encode(), headers={"Content-Type": "application/json;charset=utf-8"}
        )
        answer.raise_for_status()
        result = answer.json()
        if not isinstance(result.get("code"), int):
            raise KeyError("code")
        if result["code"] != 0:
            raise CarrierRefused(f"{result['code']}: {result.get('msg')}")
        if not isinstance(result.get("data"), dict):
            raise KeyError("data")
        return result["data"]

    def quote(self, account: CarrierAccount, parcel: Parcel, client: httpx.Client) -> Quote:
        data = {
            "customerCode": account.customer_key,
            "senderProvince": parcel.from_region,
            "receiverProvince": parcel.to_region,
            "weight": float(Decimal(parcel.weight_g) / 1000),
        }
        try:
            result = self._call(account, "/ecap/v1/orders/precheck", data, client)
            return Quote(
                ok=True,
                fee_fen=int(Decimal(str(result["freightPre"])) * 100),
                days=int(result["deliveryDays"]),
            )
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Quote(ok=False, error=f"{type(exc).__name__}: {exc}")

    def create_waybill(
        self, account: CarrierAccount, parcel: Parcel, client: httpx.Client
    ) -> Waybill:
        r = parcel.receiver
        data = {
            "orderId": parcel.reference,
            "customerCode": account.customer_key,
            "senderContact": {"fullAddress": parcel.from_region},
            "receiverContact": {
                "name": r.get("name", ""),
                "mobile": r.get("phone", ""),
                "fullAddress": "".join(
                    r.get(k, "") for k in ("province", "city", "district", "address")
                ),
                "province": r.get("province", ""),
            },
            "cargoes": [
                {"name": "goods", "quantity": 1, "weight": float(Decimal(parcel.weight_g) / 1000)}
            ],
            "productsReq": {"productCode": "ed-m-0001"},
        }
        try:
            result = self._call(account, "/ecap/v1/orders/create", data, client)
            return Waybill(ok=True, waybill_no=required(result, "waybillCode"))
        except CarrierRefused as exc:
            return Waybill(ok=False, error=str(exc), refused=True)
        except (httpx.HTTPError, *MALFORMED) as exc:
            return Waybill(ok=False, error=f"{type(exc).__name__}: {exc}")

    def cancel(self, account: CarrierAccount, waybill_no: str, client: httpx.Client) -> bool:
        data = {
            "waybillCode": waybill_no,
            "customerCode": account.customer_key,
            "cancelReason": "refunded before pickup",
            "cancelType": 1,
        }
        try:
            self._call(account, "/ecap/v1/orders/cancel", data, client)
        except (httpx.HTTPError, *MALFORMED):
            return False
        return True

    def track(
        self, account: CarrierAccount, waybill_no: str, client: httpx.Client
    ) -> list[Scan] | None:
        data = {"waybillCode": waybill_no, "customerCode": account.customer_key}
        try:
            result = self._call(account, "/ecap/v1/orders/trace/query", data, client)
            return [scan_of(waybill_no, item) for item in listed(result, "traceDetails")]
        except (httpx.HTTPError, *MALFORMED):
            return None

    def read_push(
        self, headers: Mapping[str, str], body: bytes, accounts: AccountLookup
    ) -> tuple[CarrierAccount, list[Scan]]:
        try:
            data = json.loads(body)
            account = accounts(str(data["customerCode"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PushRefused("malformed", "not a JD trace push") from exc
        if account is None:
            raise PushRefused("unknown_account", f"no JD customer {data.get('customerCode')!r}")
        query = {k: headers.get(f"x-lop-{k}", "") for k in ("timestamp", "sign")}
        expected = signed_query(
            account, "/push/trace", body.decode("utf-8", "replace"), query["timestamp"]
        )
        if not query["sign"] or query["sign"] != expected["sign"]:
            raise PushRefused("forged", "sign does not match")
        try:
            return account, [scan_of(str(data["waybillCode"]), t) for t in data["traceDetails"]]
        except MALFORMED as exc:
            raise PushRefused("malformed", f"trace push lacks {exc}") from exc

    def reply(self, accepted: bool) -> Reply:
        body = {"code": 0, "msg": "success"} if accepted else {"code": 1, "msg": "failed"}
        return Reply(200 if accepted else 400, json.dumps(body).encode())


CARRIER = JdCarrier()
