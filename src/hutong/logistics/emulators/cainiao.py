"""Cainiao's side, offline (``hutong sandbox cainiao``): LINK calls with data_digest checked,
Cainiao waybill numbers, trace pushes signed the same way."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import Delivery, Notifier, Omission, emulator_app, omission_router
from hutong.logistics.carriers.cainiao import data_digest
from hutong.logistics.emulators.base import (
    CarrierLedger,
    EmuParcel,
    Tariff,
    control_router,
    new_digits,
)

STEP_CODES = {
    "picked_up": ("ACCEPT", "ACCEPT", "您的包裹已被揽收"),
    "in_transit": ("TRANSPORT", "ON_THE_WAY", "运输中,离开【分拨中心】"),
    "arrived": ("TRANSPORT", "ON_THE_WAY", "运输中,到达【网点】"),
    "out_for_delivery": ("DELIVERING", "DELIVERING", "派送中"),
    "locker": ("TRANSPORT", "STA_INBOUND", "已到达菜鸟驿站,请凭取件码取件"),
    "delivered": ("SIGN", "SIGN", "已签收,签收人类型:本人"),
    "failed": ("FAILED", "FAILED", "派送失败"),
    "exception": ("FAILED", "FAILED", "包裹异常"),
    "returned": ("REJECT", "REJECT", "拒收,退回中"),
}
TARIFF = Tariff(first_kg_fen=(600, 800, 1_100), extra_kg_fen=(100, 300, 700), days=(1, 2, 3))
PUSH_SCHEDULE = [60.0, 600.0, 3600.0]


def detail(step: str, at: dt.datetime, place: str) -> dict[str, Any]:
    status, sub, desc = STEP_CODES[step]
    return {
        "time": int(at.timestamp() * 1000),
        "logisticsStatus": status,
        "subLogisticsStatus": sub,
        "desc": desc,
        "areaName": place,
    }


class CainiaoEmulator:
    def __init__(self, resources: dict[str, str], *, time_scale: float = 1.0) -> None:
        self.resources = resources  # logistic_provider_id -> app secret
        self.ledger = CarrierLedger(new_digits("LP", 14))
        self.notifier = Notifier(PUSH_SCHEDULE, time_scale)
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def answer(self, success: bool, error: str = "", **body: Any) -> Response:
        data = {
            "success": "true" if success else "false",
            "errorCode": "" if success else "S01",
            "errorMsg": error,
            **body,
        }
        data = self.omission.apply(data)
        return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")

    def push(self, parcel: EmuParcel, events: list[tuple[str, dt.datetime, str]]) -> Delivery:
        secret = self.resources[parcel.customer_key]
        details = [detail(*e) for e in events]
        traces = {"mailNo": parcel.waybill_no, "logisticsTraceDetailList": details}
        content = json.dumps(
            self.omission.apply(traces),
            separators=(",", ":"),
            ensure_ascii=False,
        )
        fields = {
            "msg_type": "LOGISTICS_TRACE_PUSH",
            "logistic_provider_id": parcel.customer_key,
            "logistics_interface": content,
            "data_digest": data_digest(content, secret),
        }
        return Delivery(
            parcel.push_url,
            lambda: (
                {"Content-Type": "application/x-www-form-urlencoded"},
                urlencode(fields).encode(),
            ),
            lambda r: r.status_code == 200 and r.json().get("success") == "true",
            f"cainiao trace push {parcel.waybill_no}",
        )

    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/gateway/link.do")
        async def link(request: Request) -> Response:
            fields = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
            resource = fields.get("logistic_provider_id", "")
            secret = self.resources.get(resource)
            content = fields.get("logistics_interface", "")
            if secret is None or fields.get("data_digest") != data_digest(content, secret):
                return self.answer(False, "签名错误")
            data = json.loads(content)
            msg_type = fields.get("msg_type", "")
            if msg_type == "TMS_WAYBILL_GET":
                order = data["tradeOrderInfoDtos"][0]
                to_region = str(order["recipient"]["address"].get("province", ""))
                from_region = str(data.get("sender", {}).get("address", {}).get("province", ""))
                if TARIFF.price(from_region, to_region, 1000) is None:
                    return self.answer(False, "超出服务范围")
                parcel = ledger.create(resource, str(order["objectId"]), from_region, to_region, "")
                return self.answer(
                    True,
                    waybillCloudPrintResponseList=[
                        {"objectId": parcel.reference, "waybillCode": parcel.waybill_no}
                    ],
                )
            if msg_type == "TMS_WAYBILL_DISCARD":
                ok = ledger.cancel(str(data.get("waybillCode", "")))
                return self.answer(True, discardResult=ok)
            if msg_type == "CNTECH_LV_TRACE_QUERY":
                found = ledger.parcels.get(str(data.get("mailNo", "")))
                events = (
                    found.events if found is not None and found.customer_key == resource else []
                )
                return self.answer(
                    True,
                    logisticsTrace={
                        "mailNo": data.get("mailNo"),
                        "logisticsTraceDetailList": [detail(*e) for e in events],
                    },
                )
            if msg_type == "CNTECH_LV_PRICE_QUERY":
                priced = TARIFF.price(
                    str(data.get("senderProvince", "")),
                    str(data.get("receiverProvince", "")),
                    int(data.get("weight", 1000)),
                )
                if priced is None:
                    return self.answer(False, "超出服务范围")
                return self.answer(True, price=f"{priced[0] / 100:.2f}", days=priced[1])
            return self.answer(False, f"unknown msg_type {msg_type}")

        control = control_router(ledger, self.notifier, self.push)
        return emulator_app(
            "Cainiao emulator (hutong)", router, control, omission_router(self.omission)
        )
