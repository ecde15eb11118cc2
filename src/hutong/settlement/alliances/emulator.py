"""Taobao Alliance's and JD Union's order queries, offline (``hutong sandbox alliances``).

It holds order lines in each alliance's own format and answers ``taobao.tbk.order.details.get``
on ``/router/rest`` and ``jd.union.open.order.row.query`` on ``/routerjson`` as the real
gateways do (see ``taobao`` and ``jd`` for the sources): signature checked, windows longer than
the alliance allows refused (Taobao's 20-minute limit inside its promotions), pages of at most
the published size, Taobao's ``position_index`` cursor. Lines are added and moved through
``POST /emulator/{taobao|jd}/orders`` (a list of lines in that alliance's format): the demo
and the tests play the shoppers' side through it. ``busy`` makes the next calls fail as a
throttled gateway does.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response

from hutong.emulation import emulator_app
from hutong.logistics.platforms.protocol import top_sign
from hutong.payments.emulators.launch import Launched
from hutong.settlement.alliances.protocol import SHANGHAI, TIME_FORMAT

TAOBAO_FIELD = {
    "1": "tk_create_time",
    "2": "tk_paid_time",
    "3": "tk_earning_time",
    "4": "modified_time",
}
JD_FIELD = {1: "orderTime", 2: "finishTime", 3: "modifyTime"}
# Taobao's promotions (month, day) ranges in Beijing time, when a window may be 20 minutes:
# 618, Double 11 (from the presale's start) and 年货节.
PROMOTIONS = (((5, 20), (6, 20)), ((10, 14), (11, 12)), ((1, 5), (1, 25)))


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)


def in_promotion(moment: dt.datetime) -> bool:
    md = (moment.astimezone(SHANGHAI).month, moment.astimezone(SHANGHAI).day)
    return any(lo <= md <= hi for lo, hi in PROMOTIONS)


class AllianceEmulator:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # app_key -> secret
        self.lines: dict[str, dict[str, dict[str, Any]]] = {"taobao": {}, "jd": {}}
        self.calls: list[dict[str, str]] = []
        self.busy = 0
        self._lock = threading.Lock()
        self.app = self._build()

    def close(self) -> None:
        """Nothing runs in the background."""

    def put(self, platform: str, line: dict[str, Any]) -> None:
        key = str(line["trade_id"] if platform == "taobao" else line["id"])
        with self._lock:
            self.lines[platform][key] = {**self.lines[platform].get(key, {}), **line}

    @staticmethod
    def _json(body: dict[str, Any]) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    async def _params(self, request: Request) -> dict[str, str] | None:
        params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        secret = self.secrets.get(params.get("app_key", ""))
        if secret is None or params.get("sign") != top_sign(params, secret):
            return None
        with self._lock:
            self.calls.append(params)
        return params

    def _throttled(self) -> bool:
        with self._lock:
            if self.busy > 0:
                self.busy -= 1
                return True
        return False

    def _matching(
        self, platform: str, field: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(r) for r in self.lines[platform].values() if r.get(field)]
        picked = [r for r in rows if start <= _time(r[field]) <= end]
        key = "trade_id" if platform == "taobao" else "id"
        return sorted(picked, key=lambda r: (r[field], str(r[key])))

    def taobao(self, p: dict[str, str]) -> dict[str, Any]:
        if self._throttled():
            return {
                "error_response": {
                    "code": 7,
                    "msg": "App Call Limited",
                    "sub_code": "accesscontrol.limited-by-app-access-count",
                }
            }
        try:
            start, end = _time(p["start_time"]), _time(p["end_time"])
            field = TAOBAO_FIELD[p.get("query_type", "2")]
            size = int(p.get("page_size", "20"))
        except (KeyError, ValueError):
            return _top_invalid("参数错误")
        peak = in_promotion(start) or in_promotion(end)
        limit = dt.timedelta(minutes=20) if peak else dt.timedelta(hours=3)
        if end < start or end - start > limit:
            return _top_invalid(
                "大促期间查询时间跨度不能超过20分钟" if peak else "查询时间跨度不能超过3小时"
            )
        if not 1 <= size <= 100:
            return _top_invalid("page_size不能超过100")
        rows = self._matching("taobao", field, start, end)
        cursor = p.get("position_index", "")
        if cursor:
            rows = [r for r in rows if f"{r[field]}|{r['trade_id']}" > cursor]
        page, rest = rows[:size], rows[size:]
        last = f"{page[-1][field]}|{page[-1]['trade_id']}" if page else cursor
        return {
            "tbk_order_details_get_response": {
                "data": {
                    "has_next": bool(rest),
                    "has_pre": bool(cursor),
                    "page_no": int(p.get("page_no", "1")),
                    "page_size": size,
                    "position_index": last,
                    "results": {"publisher_order_dto": page},
                },
                "request_id": "emu",
            }
        }

    def jd(self, p: dict[str, str]) -> dict[str, Any]:
        if self._throttled():
            return _jd_result({"code": 500, "message": "服务繁忙,请稍后再试"})
        try:
            req = json.loads(p["360buy_param_json"])["orderReq"]
            start, end = _time(req["startTime"]), _time(req["endTime"])
            field = JD_FIELD[int(req["type"])]
            index, size = int(req.get("pageIndex", 1)), int(req.get("pageSize", 20))
        except (KeyError, ValueError, TypeError):
            return _jd_result({"code": 400, "message": "参数错误"})
        if end < start or end - start > dt.timedelta(hours=1):
            return _jd_result({"code": 400, "message": "查询时间跨度不能超过1小时"})
        if not 1 <= size <= 500 or index < 1:
            return _jd_result({"code": 400, "message": "pageSize不能超过500"})
        rows = self._matching("jd", field, start, end)
        page = rows[(index - 1) * size : index * size]
        return _jd_result(
            {"code": 200, "message": "success", "hasMore": len(rows) > index * size, "data": page}
        )

    def _build(self) -> FastAPI:
        router = APIRouter()

        @router.post("/router/rest")
        async def taobao(request: Request) -> Response:
            p = await self._params(request)
            if p is None:
                return self._json({"error_response": {"code": 25, "msg": "Invalid signature"}})
            return self._json(self.taobao(p))

        @router.post("/routerjson")
        async def jd(request: Request) -> Response:
            p = await self._params(request)
            if p is None:
                return self._json({"error_response": {"code": "19", "zh_desc": "签名无效"}})
            return self._json(self.jd(p))

        @router.post("/emulator/{platform}/orders")
        async def put_lines(platform: str, request: Request) -> dict[str, int]:
            if platform not in self.lines:
                raise HTTPException(404, f"no alliance {platform}")
            lines = await request.json()
            for line in lines:
                self.put(platform, line)
            return {"lines": len(self.lines[platform])}

        @router.post("/emulator/busy")
        async def make_busy(calls: int = 1) -> dict[str, int]:
            self.busy = calls
            return {"busy": calls}

        return emulator_app("alliances emulator", router)


def _top_invalid(message: str) -> dict[str, Any]:
    return {
        "error_response": {
            "code": 15,
            "msg": "Remote service error",
            "sub_code": "isv.invalid-parameter",
            "sub_msg": message,
        }
    }


def _jd_result(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "jd_union_open_order_row_query_responce": {
            "code": "0",
            "queryResult": json.dumps(result, ensure_ascii=False),
        }
    }


def launch(directory: Path, time_scale: float, hutong_url: str) -> Launched:
    """``hutong sandbox alliances``: one publisher account at each alliance, keys kept in
    ``directory``; account.json holds the settings to connect each."""
    from hutong.logistics.emulators.launch import _load_or_make

    k = _load_or_make(
        directory,
        lambda: {
            "taobao_app_key": secrets.token_hex(8),
            "taobao_app_secret": secrets.token_urlsafe(24),
            "taobao_session": secrets.token_urlsafe(24),
            "jd_app_key": secrets.token_hex(8),
            "jd_app_secret": secrets.token_urlsafe(24),
        },
    )
    emu = AllianceEmulator(
        {k["taobao_app_key"]: k["taobao_app_secret"], k["jd_app_key"]: k["jd_app_secret"]}
    )
    account = {
        "taobao": {
            "platform": "taobao",
            "gateway_path": "/router/rest",
            "settings": {
                "app_key": k["taobao_app_key"],
                "app_secret": k["taobao_app_secret"],
                "session": k["taobao_session"],
            },
        },
        "jd": {
            "platform": "jd",
            "gateway_path": "/routerjson",
            "settings": {"app_key": k["jd_app_key"], "app_secret": k["jd_app_secret"]},
        },
    }
    return Launched(emu.app, account, "", emu.close)
