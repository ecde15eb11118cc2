"""Xiaohongshu's ad system (聚光): NOT a confirmed format — hutong's own definition.

No published description of Xiaohongshu's click-monitoring macros or of an e-commerce
conversion API could be found (its published material covers lead forms: a POST of the form
to the advertiser, signed ``X-Red-Signature: sha1=...``). So this module presents nothing as
Xiaohongshu's format. It follows hutong's own definition, ``hutong-xhs-1``, shaped like the
other three platforms' so that a real integration changes only this module:

- monitoring URL ``?click_id=__CLICKID__&advertiser_id=__ADVERTISERID__&campaign_id=
  __CAMPAIGNID__&unit_id=__UNITID__&creative_id=__CREATIVEID__&os=__OS__&oaid=__OAID__&
  idfa=__IDFA__&ip=__IP__&ua=__UA__&ts=__TS__`` (ms); the landing URL carries ``click_id``;
- conversion: POST JSON ``{"click_id", "event_type", "event_time" (ms), "amount_fen",
  "event_id"}`` to the configured gateway; answer ``{"code": 0}`` is accepted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

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
    "click_id": "__CLICKID__",
    "advertiser_id": "__ADVERTISERID__",
    "campaign_id": "__CAMPAIGNID__",
    "unit_id": "__UNITID__",
    "creative_id": "__CREATIVEID__",
    "os": "__OS__",
    "oaid": "__OAID__",
    "idfa": "__IDFA__",
    "ip": "__IP__",
    "ua": "__UA__",
    "ts": "__TS__",
}


class Xiaohongshu:
    name = "xiaohongshu"
    content_platform = "xiaohongshu"
    landing_param = "click_id"
    gateway = "http://127.0.0.1:9109/api/conversion"  # no published endpoint: configure one
    source = "hutong-xhs-1 (hutong's own definition; Xiaohongshu's format unconfirmed)"
    confirmed = False
    events: Mapping[str, str] = {ORDER_SUBMITTED: "order_submit", PAID: "purchase"}
    max_attempts = 16

    def monitor_template(self, base: str) -> str:
        return template(base, MACROS)

    def parse_monitor(self, query: Mapping[str, str]) -> MonitorCall:
        return read_call(
            self.name,
            query,
            filled(query, "click_id"),
            "__CLICKID__",
            ("oaid", "idfa"),
            ("advertiser_id", "campaign_id", "unit_id", "creative_id"),
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
        body = {
            "click_id": callback,
            "event_type": code,
            "event_time": epoch_ms(at),
            "amount_fen": amount_fen,
            "event_id": event_id,
        }
        return ConversionRequest("POST", gateway, json.dumps(body, separators=(",", ":")))

    def judge(self, status: int | None, text: str) -> Answer:
        return judge_reply(status, text, "code", 0)
