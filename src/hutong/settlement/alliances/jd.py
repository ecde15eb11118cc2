"""JD Union (京东联盟): ``jd.union.open.order.row.query`` on the JOS gateway (``/routerjson``),
signed as every JOS call (``logistics.platforms.protocol.top_sign``), ``v=1.0``.

Request: ``360buy_param_json = {"orderReq": {pageIndex, pageSize (at most 500 here; the page
says 200 by default), type (1 by order time, 2 by completion time, 3 by update time: hutong
polls 3), startTime, endTime ("YYYY-MM-DD HH:MM:SS" Beijing time, at most one hour apart)}}``.

Response: ``jd_union_open_order_row_query_responce.queryResult`` (JOS's own spelling
``responce``), a JSON document (sent as a string) ``{code: 200, message, hasMore, data[]}``.
Per line: ``id`` (the line's own id, hutong's key), ``orderId``, ``parentId``, ``skuId``,
``positionId``, ``validCode`` (15 awaiting payment, 16 paid, 17 completed, 24 deposit paid;
2-14 and 19-28 the invalid reasons), ``estimateCosPrice``/``estimateFee`` (amount and
commission estimated), ``actualCosPrice``/``actualFee`` (once completed), ``orderTime``,
``finishTime``, ``modifyTime``, ``payMonth`` (``yyyyMMdd`` once settled, 0 before).

Not confirmed from the published page, and what hutong does instead: the code a too-long
window gets (any non-200 ``code`` whose message speaks of the time span is read as "window too
long"); the pay time (lines carry none: a paid line's ``orderTime`` stands for it); amounts are
JSON numbers in yuan, read as decimals, never floats.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx

from hutong.logistics.platforms.protocol import top_sign
from hutong.settlement.alliances.protocol import (
    AccountRef,
    AllianceError,
    AllianceLine,
    Page,
    WindowTooLong,
    fen_of,
    spelled,
    when,
)

METHOD = "jd.union.open.order.row.query"
PAGE_SIZE = 500
STATUS = {"15": "unpaid", "16": "paid", "17": "confirmed", "24": "deposit"}
WINDOW_WORDS = ("时间", "span", "小时")


def _pay_month(value: Any) -> dt.datetime | None:
    text = str(value or "0")
    if text in ("", "0"):
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").replace(
            tzinfo=dt.timezone(dt.timedelta(hours=8))
        )
    except ValueError as exc:
        raise AllianceError(f"not a pay month: {value!r}") from exc


def line_of(row: dict[str, Any]) -> AllianceLine:
    status = str(row.get("validCode", ""))
    state = STATUS.get(status, "invalid")
    settled_at = _pay_month(row.get("payMonth"))
    if state == "confirmed" and settled_at is not None:
        state = "settled"
    placed = when(row.get("orderTime"))
    modified = when(row.get("modifyTime")) or placed
    if placed is None or modified is None:
        raise AllianceError(f"line {row.get('id')!r} without its times")
    done = state in ("confirmed", "settled")
    return AllianceLine(
        order_ref=str(row["id"]),
        parent_ref=str(row.get("orderId", "")),
        item_ref=str(row.get("skuId", "")),
        position_id=str(row.get("positionId", "")),
        raw_status=status,
        state=state,
        amount_fen=fen_of(row.get("actualCosPrice") if done else row.get("estimateCosPrice")),
        commission_fen=fen_of(row.get("actualFee") if done else row.get("estimateFee")),
        placed_at=placed,
        paid_at=placed if state in ("paid", "confirmed", "settled") else None,
        confirmed_at=when(row.get("finishTime")) if done else None,
        settled_at=settled_at,
        modified_at=modified,
        payload={k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()},
    )


class JdOrders:
    platform: str = "jd"
    settings_required: tuple[str, ...] = ("app_key", "app_secret")
    settings_secret: tuple[str, ...] = ("app_secret",)
    max_window = dt.timedelta(hours=1)
    peak_window = dt.timedelta(hours=1)

    def page(
        self,
        account: AccountRef,
        start: dt.datetime,
        end: dt.datetime,
        page_no: int,
        cursor: str,
        client: httpx.Client,
    ) -> Page:
        s = account.settings
        business = {
            "orderReq": {
                "pageIndex": page_no,
                "pageSize": PAGE_SIZE,
                "type": 3,
                "startTime": spelled(start),
                "endTime": spelled(end),
            }
        }
        params = {
            "method": METHOD,
            "app_key": s["app_key"],
            "timestamp": spelled(dt.datetime.now(dt.UTC)),
            "format": "json",
            "v": "1.0",
            "sign_method": "md5",
            "360buy_param_json": json.dumps(business, separators=(",", ":"), ensure_ascii=False),
        }
        if s.get("access_token"):
            params["access_token"] = s["access_token"]
        params["sign"] = top_sign(params, s["app_secret"])
        try:
            body = client.post(account.gateway_url, data=params).json(parse_float=Decimal)
        except (httpx.HTTPError, ValueError) as exc:
            raise AllianceError(f"{type(exc).__name__}: {exc}", retry=True) from exc
        if "error_response" in body:
            e = body["error_response"]
            raise AllianceError(f"{e.get('code')}: {e.get('zh_desc') or e.get('en_desc')}")
        raw = body.get("jd_union_open_order_row_query_responce", {}).get("queryResult", "{}")
        try:
            result = json.loads(raw, parse_float=Decimal) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise AllianceError(f"queryResult is not JSON: {exc}") from exc
        code = int(result.get("code", 0))
        if code != 200:
            message = str(result.get("message", ""))
            if any(w in message for w in WINDOW_WORDS):
                raise WindowTooLong(f"{code}: {message}")
            raise AllianceError(f"{code}: {message}", retry=code >= 500)
        return Page(
            lines=[line_of(r) for r in result.get("data") or []],
            has_next=bool(result.get("hasMore")),
        )


QUERY = JdOrders()
