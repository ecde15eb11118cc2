"""JD Logistics' side, offline (``hutong sandbox jd``): LOP calls with the md5-salt sign
checked, JD waybill numbers, trace pushes signed the same way."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import Delivery, Notifier, Omission, emulator_app, omission_router
from hutong.logistics.carriers.jd import sign
from hutong.logistics.emulators.base import (
    CarrierLedger,
    EmuParcel,
    Tariff,
    control_router,
    new_digits,
)

STEP_CODES = {
    "picked_up": ("揽收", "京东快递 已揽收"),
    "in_transit": ("分拣", "您的快件已由【分拣中心】发货"),
    "arrived": ("运输", "您的快件已到达【配送站】"),
    "out_for_delivery": ("配送", "配送员正在为您派件"),
    "locker": ("自提点", "您的快件已到达京东自提点"),
    "delivered": ("妥投", "您的快件已签收,感谢您使用京东物流"),
    "failed": ("异常", "配送异常,将再次配送"),
    "exception": ("异常", "快件异常"),
    "returned": ("拒收", "客户拒收,快件返回中"),
}
TARIFF = Tariff(first_kg_fen=(800, 1_200, 1_600), extra_kg_fen=(200, 500, 900), days=(1, 1, 2))
PUSH_SCHEDULE = [60.0, 300.0, 1800.0]


class JdEmulator:
    def __init__(
        self, customers: dict[str, tuple[str, str, str]], *, time_scale: float = 1.0
    ) -> None:
        self.customers = customers  # customerCode -> (app_key, app_secret, access_token)
        self.ledger = CarrierLedger(new_digits("JDV", 12))
        self.notifier = Notifier(PUSH_SCHEDULE, time_scale)
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def answer(self, code: int, data: Any = None, msg: str = "") -> Response:
        body = self.omission.apply({"code": code, "msg": msg, "data": data})
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    def push(self, parcel: EmuParcel, events: list[tuple[str, dt.datetime, str]]) -> Delivery:
        app_key, secret, token = self.customers[parcel.customer_key]
        details = [
            {
                "operationTitle": STEP_CODES[step][0],
                "operationRemark": STEP_CODES[step][1],
                "operationTime": int(at.timestamp() * 1000),
                "operationSite": place,
            }
            for step, at, place in events
        ]
        body = json.dumps(
            self.omission.apply(
                {
                    "customerCode": parcel.customer_key,
                    "waybillCode": parcel.waybill_no,
                    "traceDetails": details,
                }
            ),
            separators=(",", ":"),
            ensure_ascii=False,
        )

        def build() -> tuple[dict[str, str], bytes]:
            timestamp = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
            return (
                {
                    "Content-Type": "application/json",
                    "x-lop-timestamp": timestamp,
                    "x-lop-sign": sign(secret, token, app_key, "/push/trace", body, timestamp),
                },
                body.encode(),
            )

        return Delivery(
            parcel.push_url,
            build,
            lambda r: r.status_code == 200 and r.json().get("code") == 0,
            f"jd trace push {parcel.waybill_no}",
        )

    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/ecap/v1/orders/{action:path}")
        async def call(action: str, request: Request) -> Response:
            body = (await request.body()).decode("utf-8")
            q = request.query_params
            data = json.loads(body)
            customer = str(data.get("customerCode", ""))
            creds = self.customers.get(customer)
            path = request.url.path
            if (
                creds is None
                or q.get("app_key") != creds[0]
                or q.get("sign")
                != sign(
                    creds[1],
                    q.get("access_token", ""),
                    creds[0],
                    path,
                    body,
                    q.get("timestamp", ""),
                )
            ):
                return self.answer(1001, msg="签名错误")
            if action == "create":
                receiver = data.get("receiverContact", {})
                from_region = str(data.get("senderContact", {}).get("fullAddress", ""))
                to_region = str(receiver.get("province", ""))
                if TARIFF.price(from_region, to_region, 1000) is None:
                    return self.answer(2001, msg="超出配送范围")
                parcel = ledger.create(customer, str(data["orderId"]), from_region, to_region, "")
                return self.answer(
                    0, {"waybillCode": parcel.waybill_no, "orderId": parcel.reference}
                )
            if action == "cancel":
                ok = ledger.cancel(str(data.get("waybillCode", "")))
                return self.answer(
                    0 if ok else 1004, {"resultType": 0 if ok else 1}, "" if ok else "已揽收"
                )
            if action == "trace/query":
                found = ledger.parcels.get(str(data.get("waybillCode", "")))
                events = (
                    found.events if found is not None and found.customer_key == customer else []
                )
                return self.answer(
                    0,
                    {
                        "traceDetails": [
                            {
                                "operationTitle": STEP_CODES[s][0],
                                "operationRemark": STEP_CODES[s][1],
                                "operationTime": int(at.timestamp() * 1000),
                                "operationSite": place,
                            }
                            for s, at, place in events
                        ]
                    },
                )
            if action == "precheck":
                priced = TARIFF.price(
                    str(data.get("senderProvince", "")),
                    str(data.get("receiverProvince", "")),
                    int(float(data.get("weight", 1)) * 1000),
                )
                if priced is None:
                    return self.answer(2001, msg="超出配送范围")
                return self.answer(
                    0, {"freightPre": f"{priced[0] / 100:.2f}", "deliveryDays": priced[1]}
                )
            return self.answer(404, msg=f"unknown action {action}")

        control = control_router(ledger, self.notifier, self.push)
        return emulator_app(
            "JD Logistics emulator (hutong)", control, router, omission_router(self.omission)
        )
