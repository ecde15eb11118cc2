"""A live session's report, afterwards (or so far): the counters' totals and what a merchant
and a platform read from them. Money stays in integer fen; a ratio is a float because it
is never summed or paid."""

from __future__ import annotations

from typing import Any

from hutong.live.models import LiveSession, SessionProduct
from hutong.live.schemas import MinuteCounts, ReportOut, ReportProduct

TOP = 20


def session_report(
    live: LiveSession, shelf: list[SessionProduct], snap: dict[str, Any]
) -> ReportOut:
    titles = {p.product_ref: p.title for p in shelf}
    gmv, orders, views = snap["gmv_fen"], snap["orders"], snap["views"]
    products = sorted(snap["products"].items(), key=lambda item: (-item[1]["gmv_fen"], item[0]))
    return ReportOut(
        session_id=live.id,
        streamer_id=live.streamer_id,
        title=live.title,
        state=live.state,
        minutes=len(snap["per_minute"]),
        views=views,
        peak_viewers=snap["peak_viewers"],
        peak_minute=snap["peak_minute"],
        orders=orders,
        gmv_fen=gmv,
        refunds=snap["refunds"],
        refund_fen=snap["refund_fen"],
        net_gmv_fen=gmv - snap["refund_fen"],
        average_order_fen=gmv // orders if orders else 0,
        gmv_per_thousand_views_fen=gmv * 1000 // views if views else 0,
        conversion=orders / views if views else 0.0,
        refund_rate=snap["refunds"] / orders if orders else 0.0,
        products_sold=sum(1 for _, p in products if p["orders"]),
        top_products=[
            ReportProduct(
                product_ref=ref,
                title=titles.get(ref, ref),
                orders=p["orders"],
                gmv_fen=p["gmv_fen"],
                refunds=p["refunds"],
                refund_fen=p["refund_fen"],
                gmv_share=p["gmv_fen"] / gmv if gmv else 0.0,
            )
            for ref, p in products[:TOP]
        ],
        per_minute=[MinuteCounts(**row) for row in snap["per_minute"]],
    )
