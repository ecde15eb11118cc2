"""Taobao/Tmall: ``taobao.logistics.offline.send`` on the TOP gateway (``/router/rest``),
parameters ``tid, out_sid, company_code`` plus TOP's common ``method, app_key, session,
timestamp, format=json, v=2.0, sign_method=md5, sign``; answered
``{"logistics_offline_send_response": {"shipping": {"is_success": true}}}`` or an
``error_response`` with ``code``, ``msg``, ``sub_code``. See ``protocol`` for the signature."""

from __future__ import annotations

import datetime as dt

import httpx

from hutong.logistics.platforms.protocol import PlatformAccount, WriteBack, top_sign

COMPANY = {"sf": "SF", "zto": "ZTO", "jd": "JD", "cainiao": "CAINIAO"}


class TaobaoShipping:
    platform_id: str = "taobao"
    settings_required: tuple[str, ...] = ("app_key", "app_secret", "session")
    settings_secret: tuple[str, ...] = ("app_secret", "session")

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
            "method": "taobao.logistics.offline.send",
            "app_key": s["app_key"],
            "session": s["session"],
            "timestamp": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
            "tid": order_ref,
            "out_sid": waybill_no,
            "company_code": COMPANY.get(carrier, carrier.upper()),
        }
        params["sign"] = top_sign(params, s["app_secret"])
        try:
            answer = client.post(account.gateway_url, data=params)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            return WriteBack(ok=False, error=f"{type(exc).__name__}: {exc}")
        shipping = body.get("logistics_offline_send_response", {}).get("shipping", {})
        if shipping.get("is_success") is True:
            return WriteBack(ok=True)
        error = body.get("error_response", {})
        return WriteBack(
            ok=False, error=f"{error.get('sub_code') or error.get('code')}: {error.get('msg')}"
        )


CALL = TaobaoShipping()
