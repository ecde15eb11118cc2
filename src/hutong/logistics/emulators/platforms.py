"""The shelf platforms' shipping calls, offline (``hutong sandbox platforms``): Taobao's TOP
``/router/rest``, JD's JOS ``/routerjson`` and Pinduoduo's ``/api/router``, each checking its
signature and recording which order shipped with which carrier and waybill."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response

from hutong.emulation import emulator_app
from hutong.logistics.platforms.protocol import top_sign


class PlatformShippingEmulator:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # app_key / client_id -> secret
        self.shipped: dict[str, dict[str, str]] = {}  # platform:order -> carrier, waybill
        self.app = self._build()

    def close(self) -> None:
        """Nothing runs in the background."""

    @staticmethod
    def _json(body: dict[str, Any]) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    async def _params(self, request: Request, key_field: str) -> dict[str, str] | None:
        params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        secret = self.secrets.get(params.get(key_field, ""))
        if secret is None or params.get("sign") != top_sign(params, secret):
            return None
        return params

    def _build(self) -> FastAPI:
        router = APIRouter()

        @router.post("/router/rest")
        async def taobao(request: Request) -> Response:
            p = await self._params(request, "app_key")
            if p is None:
                return self._json({"error_response": {"code": 25, "msg": "Invalid signature"}})
            self.shipped[f"taobao:{p['tid']}"] = {
                "carrier": p["company_code"],
                "waybill": p["out_sid"],
            }
            return self._json(
                {"logistics_offline_send_response": {"shipping": {"is_success": True}}}
            )

        @router.post("/routerjson")
        async def jd(request: Request) -> Response:
            p = await self._params(request, "app_key")
            if p is None:
                return self._json({"error_response": {"code": "19", "zh_desc": "签名无效"}})
            business = json.loads(p["360buy_param_json"])
            self.shipped[f"jd:{business['orderId']}"] = {
                "carrier": business["logiCoprId"],
                "waybill": business["logiNo"],
            }
            return self._json(
                {
                    "jingdong_pop_order_shipment_responce": {
                        "code": "0",
                        "sopjosshipment_result": {"success": True},
                    }
                }
            )

        @router.post("/api/router")
        async def pinduoduo(request: Request) -> Response:
            p = await self._params(request, "client_id")
            if p is None:
                return self._json(
                    {"error_response": {"error_code": 10019, "error_msg": "签名错误"}}
                )
            self.shipped[f"pinduoduo:{p['order_sn']}"] = {
                "carrier": p["logistics_id"],
                "waybill": p["tracking_number"],
            }
            return self._json({"logistics_online_send_response": {"is_success": True}})

        @router.get("/_emulator/state")
        def state() -> dict[str, Any]:
            return {"shipped": self.shipped}

        return emulator_app("Shelf platforms' shipping calls (hutong)", router)
