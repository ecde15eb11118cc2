"""ZTO's side, offline (``hutong sandbox zto``): japi calls with x-dataDigest checked, ZTO
waybill numbers, track pushes signed the same way."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import Delivery, Notifier, Omission, emulator_app, omission_router
from hutong.logistics.carriers.zto import data_digest
from hutong.logistics.emulators.base import (
    CarrierLedger,
    EmuParcel,
    Tariff,
    control_router,
    new_digits,
)

STEP_CODES = {
    "picked_up": ("收件", "【揽收网点】的快递员已揽收"),
    "in_transit": ("发件", "快件离开【转运中心】,发往下一站"),
    "arrived": ("到件", "快件到达【派件网点】"),
    "out_for_delivery": ("派件", "【派件网点】的快递员正在派件"),
    "locker": ("第三方代派", "快件已送达【驿站】,请凭取件码领取"),
    "delivered": ("签收", "快件已签收,签收人:本人"),
    "failed": ("问题件", "派送不成功,收件人不在"),
    "exception": ("问题件", "快件异常,待处理"),
    "returned": ("退件", "快件退回中"),
}
TARIFF = Tariff(first_kg_fen=(500, 700, 1_000), extra_kg_fen=(100, 300, 600), days=(1, 2, 3))
PUSH_SCHEDULE = [60.0, 300.0, 900.0, 3600.0]


class ZtoEmulator:
    def __init__(self, apps: dict[str, str], *, time_scale: float = 1.0) -> None:
        self.apps = apps  # appKey -> appSecret
        self.ledger = CarrierLedger(new_digits("7", 13))
        self.notifier = Notifier(PUSH_SCHEDULE, time_scale)
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def answer(
        self, status: bool, result: Any = None, code: str = "", message: str = ""
    ) -> Response:
        body = {"status": status, "message": message, "statusCode": code, "result": result}
        body = self.omission.apply(body)
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    def push(self, parcel: EmuParcel, events: list[tuple[str, dt.datetime, str]]) -> Delivery:
        secret = self.apps[parcel.customer_key]
        traces = [
            {
                "billCode": parcel.waybill_no,
                "scanType": STEP_CODES[step][0],
                "scanDate": int(at.timestamp() * 1000),
                "desc": STEP_CODES[step][1],
                "scanSite": {"name": place},
            }
            for step, at, place in events
        ]
        pushed = self.omission.apply({"traces": traces})
        body = json.dumps(pushed, separators=(",", ":"), ensure_ascii=False)
        headers = {
            "Content-Type": "application/json",
            "x-appKey": parcel.customer_key,
            "x-dataDigest": data_digest(body, secret),
        }
        return Delivery(
            parcel.push_url,
            lambda: (headers, body.encode()),
            lambda r: r.status_code == 200 and r.json().get("status") is True,
            f"zto track push {parcel.waybill_no}",
        )

    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/{api}")
        async def call(api: str, request: Request) -> Response:
            body = (await request.body()).decode("utf-8")
            key = request.headers.get("x-appKey", "")
            secret = self.apps.get(key)
            if secret is None or request.headers.get("x-dataDigest") != data_digest(body, secret):
                return self.answer(False, code="S02", message="签名校验失败")
            data = json.loads(body)
            if api == "zto.open.createOrder":
                to_region = str(data.get("receiver", {}).get("prov", ""))
                from_region = str(data.get("sender", {}).get("prov", ""))
                if TARIFF.price(from_region, to_region, 1000) is None:
                    return self.answer(False, code="S10", message="超区")
                parcel = ledger.create(
                    key, str(data["partnerOrderCode"]), from_region, to_region, ""
                )
                return self.answer(
                    True, {"billCode": parcel.waybill_no, "orderCode": parcel.reference}
                )
            if api == "zto.open.cancelPreOrder":
                ok = ledger.cancel(str(data.get("billCode", "")))
                return self.answer(ok, None, "" if ok else "S20", "" if ok else "已揽收,无法取消")
            if api == "zto.merchant.waybill.track.query":
                found = ledger.parcels.get(str(data.get("billCode", "")))
                if found is None or found.customer_key != key:
                    return self.answer(True, [])
                return self.answer(
                    True,
                    [
                        {
                            "scanType": STEP_CODES[step][0],
                            "scanDate": int(at.timestamp() * 1000),
                            "desc": STEP_CODES[step][1],
                            "scanSite": {"name": place},
                        }
                        for step, at, place in found.events
                    ],
                )
            if api == "zto.open.getEstimatePrice":
                priced = TARIFF.price(
                    data["sender"]["prov"],
                    data["receiver"]["prov"],
                    int(float(data.get("weight", "1")) * 1000),
                )
                if priced is None:
                    return self.answer(False, code="S10", message="超区")
                return self.answer(True, {"price": f"{priced[0] / 100:.2f}", "days": priced[1]})
            return self.answer(False, code="S404", message=f"unknown api {api}")

        control = control_router(ledger, self.notifier, self.push)
        return emulator_app(
            "ZTO emulator (hutong)", control, router, omission_router(self.omission)
        )
