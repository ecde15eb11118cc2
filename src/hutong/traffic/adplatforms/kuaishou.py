"""Kuaishou's ad system (磁力引擎): click monitoring with ``__CALLBACK__`` and the activate API.

Follows Kuaishou's published data-return document (接口二 数据回传) as reproduced in its
integration guides: a GET to ``http://ad.partner.gifshow.com/track/activate`` with
``callback`` (the value inside the URL the ``__CALLBACK__`` macro was replaced with),
``event_type`` (an integer: 14 订单提交, 15 订单支付 for e-commerce), ``event_time`` (13-digit
ms) and ``purchase_amount`` (yuan, two decimals; required for event types 3, 12, 13, 14, 15),
as also modelled by the open-source ``disv5/opensdk`` (``kuaishou/model/track``).

Not confirmed from a published page, and what hutong does instead:
- the exact success answer: hutong reads HTTP 200 with ``{"result": 1}`` as accepted and any
  other ``result`` as refused, as integrations report it;
- the macro names beyond ``__CALLBACK__``: ``__ACCOUNTID__ __DID__ __AID__ __CID__ __OS__
  __IP__ __UA__ __TS__ __OAID__ __IDFA2__ __IMEI2__`` as integration guides list them;
- the landing URL's parameter: ``callback``, the same value; live-room orders and presale
  deposits have no confirmed code and are not sent. Retries: hutong's outbox schedule.
hutong never calls the host inside ``__CALLBACK__``: it sends the callback value to the
configured gateway (the published endpoint by default), so a forged monitoring call cannot
make hutong request an address of its choosing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

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
    yuan,
)

MACROS = {
    "callback": "__CALLBACK__",
    "account_id": "__ACCOUNTID__",
    "did": "__DID__",
    "aid": "__AID__",
    "cid": "__CID__",
    "os": "__OS__",
    "oaid": "__OAID__",
    "idfa_md5": "__IDFA2__",
    "imei_md5": "__IMEI2__",
    "ip": "__IP__",
    "ua": "__UA__",
    "ts": "__TS__",
}
AMOUNT_CODES = frozenset({"3", "12", "13", "14", "15"})


def callback_value(raw: str) -> str:
    """The ``callback`` inside the URL ``__CALLBACK__`` became (or the raw value itself)."""
    if "://" not in raw:
        return raw
    found = parse_qs(urlsplit(raw).query).get("callback", [""])
    return found[0]


class Kuaishou:
    name = "kuaishou"
    content_platform = "kuaishou"
    landing_param = "callback"
    gateway = "http://ad.partner.gifshow.com/track/activate"
    source = "Kuaishou data-return API (接口二, ad.partner.gifshow.com/track/activate)"
    confirmed = True
    events: Mapping[str, str] = {ORDER_SUBMITTED: "14", PAID: "15"}
    max_attempts = 16

    def monitor_template(self, base: str) -> str:
        return template(base, MACROS)

    def parse_monitor(self, query: Mapping[str, str]) -> MonitorCall:
        return read_call(
            self.name,
            query,
            callback_value(filled(query, "callback")),
            "__CALLBACK__",
            ("oaid", "idfa_md5", "imei_md5"),
            ("account_id", "did", "aid", "cid"),
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
        fields = {"callback": callback, "event_type": code, "event_time": str(epoch_ms(at))}
        if code in AMOUNT_CODES:
            fields["purchase_amount"] = yuan(amount_fen)
        return ConversionRequest("GET", gateway + "?" + urlencode(fields))

    def judge(self, status: int | None, text: str) -> Answer:
        return judge_reply(status, text, "result", 1)
