"""Bilibili's ad system: click monitoring with ``__TRACKID__`` and the conversion API (API2).

Follows Bilibili's published advertiser callback document (API1 click reporting, API2
conversion return) as reproduced in integrators' repositories: macros ``__TRACKID__``
``__ACCOUNTID__ __CAMPAIGNID__ __UNITID__ __CREATIVEID__ __OS__ __IMEI__ __CALLBACKURL__
__IDFA__ __OAID__ __IP__ __UA__ __TS__`` (UTC ms), a macro it cannot fill "sent as the raw
macro"; API2 is a GET to ``https://cm.bilibili.com/conv/api/conversion/ad/cb/v1`` with
``conv_type`` (upper case: ``ORDER_PLACE`` 提交订单, ``USER_COST`` 完成付费), ``conv_time``
(UTC ms) and ``track_id``; it answers HTTP 200 and ``{"code": 0, "message": "", "data": ""}``
(400: a required field is missing); "if the call times out, retry three times".

Not confirmed from a published page, and what hutong does instead:
- the amount: integrations add ``conv_value`` to ``USER_COST`` without naming its unit; hutong
  sends it in fen (an integer), so nothing is rounded;
- the landing URL's parameter: ``track_id`` (the advertiser's landing URL is configured as
  ``?track_id=__TRACKID__``, the document's own example);
- live-room orders and presale deposits: no code, not sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import urlencode

from hutong.traffic.adplatforms.protocol import (
    ORDER_SUBMITTED,
    PAID,
    Answer,
    ConversionRequest,
    MonitorCall,
    epoch_ms,
    filled,
    judge_reply,
    read_call,
    template,
)

MACROS = {
    "track_id": "__TRACKID__",
    "account_id": "__ACCOUNTID__",
    "campaign_id": "__CAMPAIGNID__",
    "unit_id": "__UNITID__",
    "creative_id": "__CREATIVEID__",
    "os": "__OS__",
    "imei": "__IMEI__",
    "idfa": "__IDFA__",
    "oaid": "__OAID__",
    "ip": "__IP__",
    "ua": "__UA__",
    "ts": "__TS__",
}


class Bilibili:
    name = "bilibili"
    content_platform = "bilibili"
    landing_param = "track_id"
    gateway = "https://cm.bilibili.com/conv/api/conversion/ad/cb/v1"
    source = "Bilibili advertiser callback document (API1 click, API2 conversion return)"
    confirmed = True
    events: Mapping[str, str] = {ORDER_SUBMITTED: "ORDER_PLACE", PAID: "USER_COST"}
    max_attempts = 4  # the first call and the three retries the document asks for

    def monitor_template(self, base: str) -> str:
        return template(base, MACROS)

    def parse_monitor(self, query: Mapping[str, str]) -> MonitorCall:
        return read_call(
            self.name,
            query,
            filled(query, "track_id"),
            "__TRACKID__",
            ("oaid", "idfa", "imei"),
            ("account_id", "campaign_id", "unit_id", "creative_id"),
        )

    def conversion(
        self,
        gateway: str,
        callback: str,
        code: str,
        amount_fen: int,
        at: dt.datetime,
        event_id: str,
    ) -> ConversionRequest:
        fields = {"conv_type": code, "conv_time": str(epoch_ms(at)), "track_id": callback}
        if code == self.events[PAID]:
            fields["conv_value"] = str(amount_fen)
        return ConversionRequest("GET", gateway + "?" + urlencode(fields))

    def judge(self, status: int | None, text: str) -> Answer:
        return judge_reply(status, text, "code", 0)
