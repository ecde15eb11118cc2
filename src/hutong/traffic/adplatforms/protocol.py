"""One protocol every content platform's ad-tracking module implements, and the data it speaks.

A content platform's ad system (Douyin's Ocean Engine, Kuaishou's, Bilibili's, Xiaohongshu's)
calls the advertiser's click-monitoring URL server-side with its macros filled in, and takes
conversions back through its own conversion API with the value the monitoring call carried.
Each module says, per platform: the monitoring URL template with its macros, how to read a
monitoring call, how to build a conversion callback (endpoint, fields, event codes, amount
unit, time precision) and how to read the platform's answer. The modules are pure: they build
and read messages; the outbox sends them and the service decides what an answer means.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from hutong.errors import HutongError

# hutong's conversion events, as the commerce part emits them (docs/adplatforms.md maps them).
# A presale's deposit and a live room's order have no code confirmed for these APIs on any of
# the four platforms, so hutong sends neither: a presale reports ``paid`` at its final payment.
ORDER_SUBMITTED = "order_submitted"
PAID = "paid"
EVENTS = (ORDER_SUBMITTED, PAID)


class MonitorInvalid(HutongError):
    """A monitoring call that cannot be recorded (its click value is missing or malformed)."""

    status = 400
    code = "monitor_invalid"
    title = "Monitoring call not understood"


@dataclass(frozen=True)
class MonitorCall:
    """What one monitoring call says about one tap, in hutong's words."""

    platform: str
    click_key: str  # the tap's id as it also reaches the landing URL (one tap, one key)
    callback: str  # the value a conversion callback must carry back
    ts_ms: int | None  # when the platform saw the tap, if it said
    ip: str
    user_agent: str
    device_id: str  # the first real advertising id it sent (OAID, IDFA or a hashed IMEI)
    ad: Mapping[str, str] = field(default_factory=dict)  # account/campaign/ad/creative ids


@dataclass(frozen=True)
class ConversionRequest:
    method: str  # "GET" (fields in the query) or "POST" (a JSON body)
    url: str
    body: str = ""


@dataclass(frozen=True)
class Answer:
    """The platform's word on one callback."""

    accepted: bool
    retry: bool  # whether trying again may succeed (a timeout, a 5xx), else it never will
    note: str


class AdPlatform(Protocol):
    name: str  # as in /m/{name}/... and `hutong sandbox {name}`
    content_platform: str  # the hutong platform id whose links it tracks
    landing_param: str  # the landing URL's parameter that carries the tap's click key
    gateway: str  # the published conversion endpoint
    source: str  # the published material this module follows
    confirmed: bool  # False: the platform's format could not be confirmed (the module says so)
    events: Mapping[str, str]  # hutong event -> the platform's event code (absent: not sent)
    max_attempts: int  # how many times a callback is tried, as the platform asks

    def monitor_template(self, base: str) -> str:
        """The click-monitoring URL to give the platform, ``base`` being hutong's /m/ URL."""
        ...

    def parse_monitor(self, query: Mapping[str, str]) -> MonitorCall:
        """Read a monitoring call's query; MonitorInvalid when its click value is unusable."""
        ...

    def conversion(
        self,
        gateway: str,
        callback: str,
        code: str,
        amount_fen: int,
        at: dt.datetime,
        event_id: str,
    ) -> ConversionRequest:
        """The callback for one event, ``code`` being ``events[event]``."""
        ...

    def judge(self, status: int | None, text: str) -> Answer:
        """Read the platform's answer (``status`` None: no answer at all)."""
        ...


def filled(query: Mapping[str, str], name: str) -> str:
    """A parameter's value, or "" when absent or sent as its unfilled macro (``__OAID__``):
    platforms send a macro they could not fill as it was written."""
    value = query.get(name, "").strip()
    if not value or (value.startswith("__") and value.endswith("__")):
        return ""
    return value


def clean_id(value: str, limit: int = 1024) -> str:
    """A click value kept only if it is printable ASCII within ``limit`` characters."""
    if not value or len(value) > limit or not value.isascii() or not value.isprintable():
        return ""
    return value


def device_of(query: Mapping[str, str], *names: str) -> str:
    """The first advertising id that is real: not an unfilled macro, not zeroed by
    limited ad tracking (``00000000-0000-...``)."""
    for name in names:
        value = filled(query, name)
        if value and value.strip("0-") != "":
            return value
    return ""


def ts_of(raw: str) -> int | None:
    """A time the platform sent in ms (13 digits) or s (10 digits), as ms."""
    if not raw.isdigit():
        return None
    value = int(raw)
    if len(raw) == 10:
        return value * 1000
    return value if len(raw) == 13 else None


def epoch_ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def yuan(amount_fen: int) -> str:
    """Fen as yuan with two decimals, exactly (never through a float): 12345 -> "123.45"."""
    return f"{Decimal(amount_fen) / 100:.2f}"


def first_non_empty(*values: str) -> str:
    return next((v for v in values if v), "")


def template(base: str, macros: Mapping[str, str]) -> str:
    """A monitoring URL: ``base`` with each parameter set to the macro the platform fills."""
    return base + "?" + "&".join(f"{name}={macro}" for name, macro in macros.items())


def judge_reply(status: int | None, text: str, field: str, success: object) -> Answer:
    """The reading all four platforms share: no answer, 429 or a 5xx may succeed later; HTTP
    200 whose JSON ``field`` equals ``success`` is accepted; anything else is a refusal."""
    if status is None or status >= 500 or status == 429:
        return Answer(False, True, f"no answer ({status})" if status else "no answer")
    try:
        reply = json.loads(text)
    except ValueError:
        return Answer(False, False, f"HTTP {status}: not JSON")
    if not isinstance(reply, dict):
        return Answer(False, False, f"HTTP {status}: not a JSON object")
    value = reply.get(field)
    message = reply.get("message") or reply.get("error_msg") or ""
    if status == 200 and value == success:
        return Answer(True, False, f"{field} {value}")
    return Answer(False, False, f"{field} {value}: {message}"[:300])


def read_call(
    platform: str,
    query: Mapping[str, str],
    click_value: str,
    macro: str,
    devices: tuple[str, ...],
    ad_fields: tuple[str, ...],
) -> MonitorCall:
    """A monitoring call in hutong's words, from the parameters of hutong's own templates
    (``ts``, ``ip``, ``ua`` and the platform's ids); ``click_value`` is the tap's value as the
    platform's module read it. MonitorInvalid when that value is missing or malformed."""
    value = clean_id(click_value)
    if not value:
        raise MonitorInvalid(f"the click value ({macro}) is missing or malformed")
    return MonitorCall(
        platform=platform,
        click_key=value,
        callback=value,
        ts_ms=ts_of(filled(query, "ts")),
        ip=filled(query, "ip"),
        user_agent=filled(query, "ua"),
        device_id=device_of(query, *devices),
        ad={k: filled(query, k) for k in ad_fields if filled(query, k)},
    )
