"""SF Express's side, offline (``hutong sandbox sf``): the ``/std/service`` envelope with
msgDigest checked, SF waybill numbers, route pushes in the same envelope."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import Delivery, Notifier, Omission, emulator_app, omission_router
from hutong.logistics.carriers.sf import digest, open_envelope
from hutong.logistics.emulators.base import (
    CarrierLedger,
    EmuParcel,
    Tariff,
    control_router,
    local,
    new_digits,
)

STEP_CODES = {
    "picked_up": ("50", "顺丰速运 已收取快件"),
    "in_transit": ("30", "快件在【转运中心】完成分拣,准备发往下一站"),
    "arrived": ("31", "快件到达【派件网点】"),
    "out_for_delivery": ("44", "快件交给快递员,正在派送途中"),
    "locker": ("607", "快件已放至代收点,请及时领取"),
    "delivered": ("80", "已签收,感谢使用顺丰,期待再次为您服务"),
    "failed": ("70", "派送不成功,快递员将再次派送"),
    "exception": ("33", "快件滞留,待处理"),
    "returned": ("99", "应客户要求,快件正在退回中"),
}
TARIFF = Tariff(first_kg_fen=(1_200, 1_800, 2_300), extra_kg_fen=(200, 600, 1_300), days=(1, 1, 2))
PUSH_SCHEDULE = [30.0, 60.0, 300.0, 900.0, 3600.0]


class SfEmulator:
    def __init__(
        self, partners: dict[str, str], *, time_scale: float = 1.0, tariff: Tariff = TARIFF
    ) -> None:
        self.partners = partners  # partnerID -> checkWord
        self.tariff = tariff
        self.ledger = CarrierLedger(new_digits("SF", 13))
        self.notifier = Notifier(PUSH_SCHEDULE, time_scale)
        self.omission = Omission()  # a fault a test switches on (hutong.emulation)
        self.app = self._build()

    def close(self) -> None:
        self.notifier.close()

    def answer(
        self,
        success: bool,
        msg: dict[str, Any] | None = None,
        code: str = "S0000",
        error: str = "",
    ) -> dict[str, Any]:
        result = {"success": success, "errorCode": code, "errorMsg": error or None, "msgData": msg}
        result = self.omission.apply(result)
        return {
            "apiResultCode": "A1000",
            "apiErrorMsg": "",
            "apiResponseID": uuid.uuid4().hex.upper(),
            "apiResultData": json.dumps(result, separators=(",", ":"), ensure_ascii=False),
        }

    def push(self, parcel: EmuParcel, events: list[tuple[str, dt.datetime, str]]) -> Delivery:
        check_word = self.partners[parcel.customer_key]
        routes = [
            {
                "mailno": parcel.waybill_no,
                "orderid": parcel.reference,
                "acceptTime": local(at),
                "acceptAddress": place,
                "opCode": STEP_CODES[step][0],
                "remark": STEP_CODES[step][1],
                "id": f"{parcel.waybill_no}-{i}",
            }
            for i, (step, at, place) in enumerate(events)
        ]

        def build() -> tuple[dict[str, str], bytes]:
            msg_data = json.dumps(
                self.omission.apply({"WaybillRoute": routes}),
                separators=(",", ":"),
                ensure_ascii=False,
            )
            timestamp = str(int(time.time()))
            fields = {
                "partnerID": parcel.customer_key,
                "requestID": str(uuid.uuid4()),
                "serviceCode": "RoutePushService",
                "timestamp": timestamp,
                "msgDigest": digest(msg_data, timestamp, check_word),
                "msgData": msg_data,
            }
            return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()

        return Delivery(
            parcel.push_url,
            build,
            lambda r: r.status_code == 200 and r.json().get("return_code") == "0000",
            f"sf route push {parcel.waybill_no}",
        )

    def _build(self) -> FastAPI:
        router = APIRouter()
        ledger = self.ledger

        @router.post("/std/service")
        async def service(request: Request) -> Response:
            fields = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
            check_word = self.partners.get(fields.get("partnerID", ""))
            try:
                if check_word is None:
                    raise ValueError("unknown partner")
                data = open_envelope(fields, check_word)
            except (ValueError, KeyError):
                body = {
                    "apiResultCode": "A1003",
                    "apiErrorMsg": "验证失败",
                    "apiResponseID": "",
                    "apiResultData": None,
                }
                return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
            partner = fields["partnerID"]
            handler = {
                "EXP_RECE_CREATE_ORDER": self._create,
                "EXP_RECE_UPDATE_ORDER": self._cancel,
                "EXP_RECE_SEARCH_ROUTES": self._routes,
                "EXP_RECE_QUERY_DELIVERTM": self._quote,
            }.get(fields.get("serviceCode", ""))
            result = (
                handler(partner, data)
                if handler
                else self.answer(False, code="8000", error="unknown service")
            )
            return Response(json.dumps(result, ensure_ascii=False), media_type="application/json")

        control = control_router(ledger, self.notifier, self.push)
        return emulator_app(
            "SF Express emulator (hutong)", router, control, omission_router(self.omission)
        )

    def _create(self, partner: str, data: dict[str, Any]) -> dict[str, Any]:
        receiver: dict[str, Any] = next(
            (c for c in data.get("contactInfoList", []) if c.get("contactType") == 2), {}
        )
        sender: dict[str, Any] = next(
            (c for c in data.get("contactInfoList", []) if c.get("contactType") == 1), {}
        )
        to_region = str(receiver.get("province", ""))
        if self.tariff.price(str(sender.get("province", "")), to_region, 1000) is None:
            return self.answer(False, code="8114", error="目的地不在收派范围")
        parcel = self.ledger.create(
            partner, str(data["orderId"]), str(sender.get("province", "")), to_region, ""
        )
        return self.answer(
            True,
            {
                "orderId": parcel.reference,
                "waybillNoInfoList": [{"waybillType": 1, "waybillNo": parcel.waybill_no}],
            },
        )

    def _cancel(self, partner: str, data: dict[str, Any]) -> dict[str, Any]:
        numbers = [w.get("waybillNo", "") for w in data.get("waybillNoInfoList", [])]
        if data.get("dealType") != 2 or not numbers or not self.ledger.cancel(numbers[0]):
            return self.answer(False, code="8252", error="订单已揽收,不可取消")
        return self.answer(True, {"orderId": "", "resStatus": 2})

    def _routes(self, partner: str, data: dict[str, Any]) -> dict[str, Any]:
        resps = []
        for number in data.get("trackingNumber", []):
            parcel = self.ledger.parcels.get(number)
            if parcel is None or parcel.customer_key != partner:
                continue
            resps.append(
                {
                    "mailNo": number,
                    "routes": [
                        {
                            "acceptTime": local(at),
                            "acceptAddress": place,
                            "remark": STEP_CODES[step][1],
                            "opCode": STEP_CODES[step][0],
                        }
                        for step, at, place in parcel.events
                    ],
                }
            )
        return self.answer(True, {"routeResps": resps})

    def _quote(self, partner: str, data: dict[str, Any]) -> dict[str, Any]:
        weight_g = int(float(data.get("weight", "1")) * 1000)
        priced = self.tariff.price(
            data["srcAddress"]["province"], data["destAddress"]["province"], weight_g
        )
        if priced is None:
            return self.answer(False, code="8114", error="目的地不在收派范围")
        fee, days = priced
        return self.answer(
            True,
            {
                "deliverTmDto": [
                    {
                        "businessType": "2",
                        "businessTypeDesc": "顺丰标快",
                        "fee": f"{fee / 100:.2f}",
                        "deliverTime": days,
                    }
                ]
            },
        )
