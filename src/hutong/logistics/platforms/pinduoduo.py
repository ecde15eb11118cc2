"""Pinduoduo: ``pdd.logistics.online.send`` on the open gateway (``/api/router``), parameters
``order_sn, logistics_id, tracking_number`` plus ``type, client_id, access_token, timestamp
(unix seconds), data_type=JSON, sign``; answered
``{"logistics_online_send_response": {"is_success": true}}`` or an ``error_response`` with
``error_code`` and ``error_msg``. See ``protocol`` for the signature."""

from __future__ import annotations

import time

import httpx

from hutong.logistics.platforms.protocol import PlatformAccount, WriteBack, top_sign

COMPANY = {"zto": "115", "sf": "44", "jd": "120", "cainiao": "390"}


class PinduoduoShipping:
    platform_id: str = "pinduoduo"
    settings_required: tuple[str, ...] = ("client_id", "client_secret", "access_token")
    settings_secret: tuple[str, ...] = ("client_secret", "access_token")

    def send(
        self,
        account: PlatformAccount,
        order_ref: str,
        carrier: str,
        waybill_no: str,
        client: httpx.Client,
    ) -> WriteBack:
        s = account.settings
        params = {
            "type": "pdd.logistics.online.send",
            "client_id": s["client_id"],
            "access_token": s["access_token"],
            "timestamp": str(int(time.time())),
            "data_type": "JSON",
            "order_sn": order_ref,
            "logistics_id": COMPANY.get(carrier, carrier),
            "tracking_number": waybill_no,
        }
        params["sign"] = top_sign(params, s["client_secret"])
        try:
            body = client.post(account.gateway_url, data=params).json()
        except (httpx.HTTPError, ValueError) as exc:
            return WriteBack(ok=False, error=f"{type(exc).__name__}: {exc}")
        if body.get("logistics_online_send_response", {}).get("is_success") is True:
            return WriteBack(ok=True)
        error = body.get("error_response", {})
        return WriteBack(ok=False, error=f"{error.get('error_code')}: {error.get('error_msg')}")


CALL = PinduoduoShipping()
