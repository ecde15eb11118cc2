"""JD: ``jingdong.pop.order.shipment`` on the JOS gateway (``/routerjson``), business
parameters in ``360buy_param_json`` (``orderId, logiCoprId, logiNo``) plus ``method, app_key,
access_token, timestamp, v=2.0, sign``; answered under JOS's own spelling
``jingdong_pop_order_shipment_responce.sopjosshipment_result.success``. See ``protocol``."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from hutong.logistics.platforms.protocol import PlatformAccount, WriteBack, top_sign

COMPANY = {"jd": "2087", "sf": "467", "zto": "463", "cainiao": "1327"}


class JdShipping:
    platform_id: str = "jd"
    settings_required: tuple[str, ...] = ("app_key", "app_secret", "access_token")
    settings_secret: tuple[str, ...] = ("app_secret", "access_token")

    def send(
        self,
        account: PlatformAccount,
        order_ref: str,
        carrier: str,
        waybill_no: str,
        client: httpx.Client,
    ) -> WriteBack:
        s = account.settings
        business = {
            "orderId": order_ref,
            "logiCoprId": COMPANY.get(carrier, carrier),
            "logiNo": waybill_no,
        }
        params = {
            "method": "jingdong.pop.order.shipment",
            "app_key": s["app_key"],
            "access_token": s["access_token"],
            "timestamp": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "v": "2.0",
            "360buy_param_json": json.dumps(business, separators=(",", ":")),
        }
        params["sign"] = top_sign(params, s["app_secret"])
        try:
            body = client.post(account.gateway_url, data=params).json()
        except (httpx.HTTPError, ValueError) as exc:
            return WriteBack(ok=False, error=f"{type(exc).__name__}: {exc}")
        result = body.get("jingdong_pop_order_shipment_responce", {}).get(
            "sopjosshipment_result", {}
        )
        if result.get("success") is True:
            return WriteBack(ok=True)
        error = body.get("error_response", {})
        return WriteBack(
            ok=False, error=f"{error.get('code')}: {error.get('zh_desc') or error.get('en_desc')}"
        )


CALL = JdShipping()
