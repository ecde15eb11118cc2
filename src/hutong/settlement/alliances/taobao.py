"""Taobao Alliance (淘宝联盟): ``taobao.tbk.order.details.get`` on the TOP gateway
(``/router/rest``), signed as every TOP call (``logistics.platforms.protocol.top_sign``).

Request (TOP's published parameters for this API): ``query_type`` (1 by creation time, 2 by
payment time, 3 by settlement time, 4 by update time: hutong polls 4, so a line that moves
comes back), ``start_time``/``end_time`` as ``YYYY-MM-DD HH:MM:SS`` Beijing time, at most 3
hours apart (20 minutes during the big promotions: 618, Double 11, 年货节), ``page_no``,
``page_size`` (at most 100), ``position_index`` (the cursor the previous page returned),
``jump_type`` (1 next page).

Response: ``tbk_order_details_get_response.data`` with ``has_next, has_pre, page_no,
page_size, position_index`` and ``results.publisher_order_dto[]`` (TOP's JSON mirrors its XML
``results>publisher_order_dto``, as the open SDK models show). Per line: ``trade_id`` (the sub
order, hutong's key), ``trade_parent_id``, ``item_id``, ``adzone_id`` (the position),
``tk_status`` (12 paid, 14 receipt confirmed, 3 settled, 13 invalid), ``alipay_total_price``
(paid amount; the whole amount once a presale's final payment lands), ``pay_price`` (the
amount settled on), ``pub_share_pre_fee`` (estimated income at payment), ``pub_share_fee``
(income at settlement), ``tk_create_time, tk_deposit_time, tk_paid_time, tk_earning_time,
modified_time``.

Not confirmed from the published page, and what hutong does instead: the error a too-long
window gets (hutong reads any ``error_response`` whose ``sub_msg`` speaks of the time span as
"window too long"); the line carries no receipt time, so the first ``modified_time`` seen at
status 14 stands for it; a presale line with only its deposit paid is read from
``tk_deposit_time`` set and ``tk_paid_time`` empty.
"""

from __future__ import annotations

import datetime as dt
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

METHOD = "taobao.tbk.order.details.get"
PAGE_SIZE = 100
STATUS = {"12": "paid", "14": "confirmed", "3": "settled", "13": "invalid"}
WINDOW_WORDS = ("时间", "span", "3小时", "20分钟")
# TOP's system-level codes that mean "later": 7 app call limited, 520 remote service busy
RETRY_CODES = {"7", "520"}


def line_of(dto: dict[str, Any]) -> AllianceLine:
    status = str(dto.get("tk_status", ""))
    state = STATUS.get(status, "invalid")
    if state == "paid" and dto.get("tk_deposit_time") and not dto.get("tk_paid_time"):
        state = "deposit"
    settled = state == "settled"
    modified = when(dto.get("modified_time")) or when(dto.get("tk_create_time"))
    placed = when(dto.get("tk_create_time"))
    if modified is None or placed is None:
        raise AllianceError(f"line {dto.get('trade_id')!r} without its times")
    return AllianceLine(
        order_ref=str(dto["trade_id"]),
        parent_ref=str(dto.get("trade_parent_id", "")),
        item_ref=str(dto.get("item_id", "")),
        position_id=str(dto.get("adzone_id", "")),
        raw_status=status,
        state=state,
        amount_fen=fen_of(dto.get("pay_price") if settled else dto.get("alipay_total_price")),
        commission_fen=fen_of(
            dto.get("pub_share_fee") if settled else dto.get("pub_share_pre_fee")
        ),
        placed_at=placed,
        paid_at=when(dto.get("tk_paid_time")),
        confirmed_at=modified if state in ("confirmed", "settled") else None,
        settled_at=when(dto.get("tk_earning_time")) if settled else None,
        modified_at=modified,
        payload={k: v for k, v in dto.items() if isinstance(v, str | int | bool)},
    )


class TaobaoOrders:
    platform: str = "taobao"
    settings_required: tuple[str, ...] = ("app_key", "app_secret", "session")
    settings_secret: tuple[str, ...] = ("app_secret", "session")
    max_window = dt.timedelta(hours=3)
    peak_window = dt.timedelta(minutes=20)

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
        params = {
            "method": METHOD,
            "app_key": s["app_key"],
            "session": s["session"],
            "timestamp": spelled(dt.datetime.now(dt.UTC)),
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
            "query_type": "4",
            "start_time": spelled(start),
            "end_time": spelled(end),
            "page_no": str(page_no),
            "page_size": str(PAGE_SIZE),
            "jump_type": "1",
        }
        if cursor:
            params["position_index"] = cursor
        params["sign"] = top_sign(params, s["app_secret"])
        try:
            answer = client.post(account.gateway_url, data=params)
            body = answer.json(parse_float=Decimal)
        except (httpx.HTTPError, ValueError) as exc:
            raise AllianceError(f"{type(exc).__name__}: {exc}", retry=True) from exc
        if "error_response" in body:
            raise _error(body["error_response"])
        data = body.get("tbk_order_details_get_response", {}).get("data", {})
        dtos = (data.get("results") or {}).get("publisher_order_dto") or []
        return Page(
            lines=[line_of(d) for d in dtos],
            has_next=bool(data.get("has_next")),
            cursor=str(data.get("position_index", "")),
        )


def _error(error: dict[str, Any]) -> AllianceError:
    text = f"{error.get('code')} {error.get('msg', '')}: {error.get('sub_code', '')} " + str(
        error.get("sub_msg", "")
    )
    if any(w in str(error.get("sub_msg", "")) for w in WINDOW_WORDS):
        return WindowTooLong(text)
    return AllianceError(text, retry=str(error.get("code")) in RETRY_CODES)


QUERY = TaobaoOrders()
