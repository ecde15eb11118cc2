"""The content platforms' side, offline: ``hutong sandbox oceanengine|kuaishou|bilibili|
xiaohongshu``.

Each emulator plays one ad system. ``POST /_emulator/tap`` is a user tapping an ad: it mints
the tap's click value, fills the advertiser's click-monitoring URL's macros as the platform
does (a macro it has no value for is left as written) and calls it server-side, as the
platform does. Its conversion endpoint (the platform's own path) checks a callback's fields
and codes as the platform documents them and answers in the platform's words; a callback value
it never issued is refused. ``GET /_emulator/state`` shows taps and conversions (a repeat of
the same value and event counted, not recorded twice: the platforms dedup).
``POST /_emulator/fail`` makes the next callbacks fail with a status, to exercise retries.
The refusal codes for an unknown callback or a bad field are the emulator's own where the
platform's are not published.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from hutong.traffic.adplatforms.protocol import AdPlatform
from hutong.traffic.adplatforms.registry import PLATFORMS

MACRO = re.compile(r"__[A-Z0-9_]+__")
PATHS = {
    "oceanengine": "/api/v2/conversion",
    "kuaishou": "/track/activate",
    "bilibili": "/conv/api/conversion/ad/cb/v1",
    "xiaohongshu": "/api/conversion",
}
# event codes each platform's conversion API takes (a subset of their published lists)
OCEANENGINE_EVENTS = frozenset(
    {"active", "active_register", "active_pay", "in_app_order", "in_app_pay", "in_app_cart",
     "in_app_order_balance", "shopping", "form", "phone", "ecom_successful_pay", "ecom_refund"}
)  # fmt: skip
KUAISHOU_EVENTS = frozenset({1, 2, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 43, 44, 51, 64, 69, 84})
KUAISHOU_AMOUNT = frozenset({3, 12, 13, 14, 15})
BILIBILI_EVENTS = frozenset(
    {"APP_DOWNLOAD", "APP_INSTALL", "APP_FIRST_ACTIVE", "APP_ACTIVE", "FORM_SUBMIT",
     "USER_REGISTER", "ADD_TO_CART", "ORDER_PLACE", "USER_COST", "USER_RESERVE", "RETENTION",
     "APP_CALLUP", "FORM_USER_COST", "ACCOUNT_SUBSCRIBE"}
)  # fmt: skip
XIAOHONGSHU_EVENTS = frozenset({"order_submit", "purchase"})


class Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


@dataclass
class Received:
    callback: str
    event: str
    time_ms: int
    amount: str
    repeats: int = 0


@dataclass
class Ledger:
    taps: dict[str, dict[str, Any]] = field(default_factory=dict)  # click value -> tap
    conversions: dict[tuple[str, str], Received] = field(default_factory=dict)
    fail_next: int = 0
    fail_status: int = 503
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ms(raw: Any) -> int:
    text = str(raw)
    if not text.isdigit() or len(text) != 13:
        raise ValueError("a time in ms (13 digits)")
    return int(text)


def _yuan(raw: Any) -> str:
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError("an amount in yuan") from exc
    if value < 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("an amount in yuan with at most two decimals")
    return f"{value:.2f}"


class AdEmulator:
    def __init__(self, platform: AdPlatform, gateway_url: str = "") -> None:
        self.platform = platform
        self.gateway_url = gateway_url or platform.gateway
        self.ledger = Ledger()
        self._client = httpx.Client(timeout=10.0)
        self.app = FastAPI(title=f"{platform.name} emulator", docs_url=None, redoc_url=None)
        self.app.include_router(self._router())

    # -- taps ----------------------------------------------------------------------------
    def _macros(self, value: str, body: Mapping[str, Any]) -> dict[str, str]:
        ts = str(int(body.get("ts_ms") or time.time() * 1000))  # the tap's time, in ms
        common = {
            "__IP__": str(body.get("ip", "")),
            "__UA__": str(body.get("ua", "")),
            "__TS__": ts,
            "__OS__": str(body.get("os", "0")),
            "__OAID__": str(body.get("oaid", "")),
            "__IDFA__": str(body.get("idfa", "")),
        }
        ids = {k: str(v) for k, v in (body.get("ad") or {}).items()}
        own: dict[str, str] = {
            "oceanengine": {"__CALLBACK_PARAM__": value, **ids},
            # Kuaishou's __CALLBACK__ is its activate URL carrying the value
            "kuaishou": {"__CALLBACK__": f"{self.gateway_url}?callback={value}", **ids},
            "bilibili": {"__TRACKID__": value, **ids},
            "xiaohongshu": {"__CLICKID__": value, **ids},
        }[self.platform.name]
        return {k: v for k, v in {**common, **own}.items() if v}

    def tap(self, body: Mapping[str, Any]) -> dict[str, Any]:
        value = secrets.token_urlsafe(24)
        filled = self._macros(value, body)
        url = MACRO.sub(
            lambda m: quote(filled[m.group(0)], safe="") if m.group(0) in filled else m.group(0),
            str(body["monitor_url"]),
        )
        try:
            answer = self._client.get(url)
            status: int | str = answer.status_code
            reply = answer.text[:500]
        except httpx.HTTPError as exc:
            status, reply = type(exc).__name__, ""
        tap = {"click_value": value, "monitor_url": url, "status": status, "answer": reply}
        with self.ledger.lock:
            self.ledger.taps[value] = tap
        return {**tap, "landing_param": self.platform.landing_param}

    # -- conversions ---------------------------------------------------------------------
    def _known(self, callback: str) -> bool:
        with self.ledger.lock:
            return callback in self.ledger.taps

    def _receive(self, callback: str, event: str, time_ms: int, amount: str) -> None:
        with self.ledger.lock:
            got = self.ledger.conversions.get((callback, event))
            if got is not None:
                got.repeats += 1
            else:
                self.ledger.conversions[(callback, event)] = Received(
                    callback, event, time_ms, amount
                )

    def oceanengine(self, body: Any, query: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Refused(400, {"code": 40000, "message": "body must be a JSON object"})
        event = body.get("event_type")
        callback = ((body.get("context") or {}).get("ad") or {}).get("callback", "")
        if event not in OCEANENGINE_EVENTS:
            raise Refused(200, {"code": 40001, "message": f"unknown event_type {event!r}"})
        try:
            time_ms = _ms(body.get("timestamp"))
            props = body.get("properties") or {}
            amount = _yuan(props["pay_amount"]) if "pay_amount" in props else ""
        except ValueError as exc:
            raise Refused(200, {"code": 40002, "message": str(exc)}) from exc
        if not self._known(callback):
            raise Refused(200, {"code": 40003, "message": "callback not found"})
        self._receive(callback, str(event), time_ms, amount)
        return {"code": 0, "message": "成功"}

    def kuaishou(self, body: Any, query: Mapping[str, str]) -> dict[str, Any]:
        try:
            event = int(query.get("event_type", ""))
            time_ms = _ms(query.get("event_time", ""))
            amount = _yuan(query["purchase_amount"]) if event in KUAISHOU_AMOUNT else ""
        except (ValueError, KeyError) as exc:
            raise Refused(200, {"result": 0, "error_msg": f"bad field: {exc}"}) from exc
        if event not in KUAISHOU_EVENTS:
            raise Refused(200, {"result": 0, "error_msg": f"unknown event_type {event}"})
        callback = query.get("callback", "")
        if not self._known(callback):
            raise Refused(200, {"result": 0, "error_msg": "callback invalid"})
        self._receive(callback, str(event), time_ms, amount)
        return {"result": 1}

    def bilibili(self, body: Any, query: Mapping[str, str]) -> dict[str, Any]:
        for name in ("conv_type", "conv_time", "track_id"):
            if not query.get(name):
                raise Refused(400, {"code": 400, "message": f"missing {name}", "data": ""})
        event = query["conv_type"]
        if event not in BILIBILI_EVENTS:
            raise Refused(200, {"code": 1, "message": f"unknown conv_type {event}", "data": ""})
        try:
            time_ms = _ms(query["conv_time"])
        except ValueError as exc:
            raise Refused(200, {"code": 1, "message": str(exc), "data": ""}) from exc
        if not self._known(query["track_id"]):
            raise Refused(200, {"code": 1, "message": "track_id not found", "data": ""})
        self._receive(query["track_id"], event, time_ms, query.get("conv_value", ""))
        return {"code": 0, "message": "", "data": ""}

    def xiaohongshu(self, body: Any, query: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("event_type") not in XIAOHONGSHU_EVENTS:
            raise Refused(200, {"code": 1, "message": "unknown event_type"})
        amount = body.get("amount_fen")
        if not isinstance(amount, int) or amount < 0:
            raise Refused(200, {"code": 1, "message": "amount_fen must be an integer"})
        try:
            time_ms = _ms(body.get("event_time"))
        except ValueError as exc:
            raise Refused(200, {"code": 1, "message": str(exc)}) from exc
        if not self._known(str(body.get("click_id", ""))):
            raise Refused(200, {"code": 1, "message": "click_id not found"})
        self._receive(str(body["click_id"]), str(body["event_type"]), time_ms, str(amount))
        return {"code": 0, "message": "ok"}

    def state(self) -> dict[str, Any]:
        with self.ledger.lock:
            return {
                "taps": list(self.ledger.taps.values()),
                "conversions": [vars(r) for r in self.ledger.conversions.values()],
            }

    def _router(self) -> APIRouter:
        router = APIRouter()
        handler: Callable[[Any, Mapping[str, str]], dict[str, Any]] = getattr(
            self, self.platform.name
        )

        async def convert(request: Request) -> Response:
            with self.ledger.lock:
                failing = self.ledger.fail_next > 0
                if failing:
                    self.ledger.fail_next -= 1
            if failing:
                return Response(status_code=self.ledger.fail_status)
            raw = await request.body()
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            try:
                return JSONResponse(handler(body, dict(request.query_params)))
            except Refused as refused:
                return JSONResponse(refused.body, status_code=refused.status)

        router.add_api_route(PATHS[self.platform.name], convert, methods=["GET", "POST"])

        @router.post("/_emulator/tap")
        def tap(body: dict[str, Any]) -> dict[str, Any]:
            return self.tap(body)

        @router.post("/_emulator/fail")
        def fail(body: dict[str, int]) -> dict[str, int]:
            with self.ledger.lock:
                self.ledger.fail_next = int(body.get("next", 1))
                self.ledger.fail_status = int(body.get("status", 503))
            return {"fail_next": self.ledger.fail_next}

        @router.get("/_emulator/state")
        def state() -> dict[str, Any]:
            return self.state()

        return router

    def close(self) -> None:
        self._client.close()


def launch(name: str, base_url: str) -> AdEmulator:
    """The emulator of ad platform ``name`` served at ``base_url``."""
    return AdEmulator(PLATFORMS[name], base_url + PATHS[name])
