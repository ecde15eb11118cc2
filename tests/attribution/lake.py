"""A lake written by hand: clicks, impressions and exported orders as Parquet, for the journey
rules' hand-checked cases (both engines read the same files)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hutong.attribution.journeys import CAMPAIGNS
from hutong.lake.compact import shanghai_day
from hutong.lake.export import EXPORTS
from hutong.lake.schema import CLICKS, IMPRESSIONS, LogSchema

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = int(dt.datetime(2024, 11, 11, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)  # 08:00 Shanghai

_ids = itertools.count(1)


def _ts(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.clicks: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.campaigns: list[dict[str, Any]] = []

    def campaign(
        self,
        cid: str,
        merchant: str,
        click_days: int = 7,
        view_days: int = 1,
        model: str = "",
        platform: str = "tmall",
    ) -> None:
        self.campaigns.append(
            {
                "campaign_id": cid,
                "merchant_id": merchant,
                "platform_id": platform,
                "click_window_ms": click_days * DAY,
                "view_window_ms": view_days * DAY,
                "model": model or "last_click",
            }
        )

    def click(self, campaign: str, device: str, ms: int, **extra: Any) -> str:
        event = f"c{next(_ids):06d}"
        row = {
            "event_id": event,
            "click_id": event,
            "ts": _ts(ms),
            "campaign_id": campaign,
            "placement_id": extra.pop("placement", f"pl-{campaign}"),
            "creative_id": extra.pop("creative", ""),
            "affiliate_id": extra.pop("affiliate", ""),
            "seller_id": "douyin-media",
            "source_platform": extra.pop("source", "douyin"),
            "device_key": device,
            "bot": extra.pop("bot", False),
            "duplicate": extra.pop("duplicate", False),
            "allowed": True,
        }
        row["billable"] = extra.pop("billable", not (row["bot"] or row["duplicate"]))
        row.update(extra)
        self.clicks.append(row)
        return event

    def view(self, campaign: str, device: str, ms: int, **extra: Any) -> str:
        event = f"v{next(_ids):06d}"
        row = {
            "event_id": event,
            "ts": _ts(ms),
            "received_at": _ts(ms),
            "campaign_id": campaign,
            "placement_id": extra.pop("placement", f"pl-{campaign}"),
            "creative_id": extra.pop("creative", ""),
            "seller_id": "douyin-media",
            "source_platform": extra.pop("source", "douyin"),
            "device_key": device,
            "bot": extra.pop("bot", False),
            "duplicate": extra.pop("duplicate", False),
        }
        row["billable"] = extra.pop("billable", not (row["bot"] or row["duplicate"]))
        row.update(extra)
        self.views.append(row)
        return event

    def order(
        self,
        oid: str,
        merchant: str,
        placed: int,
        paid_fen: int,
        *,
        paid: int | None = None,
        click: str | None = None,
        device: str | None = None,
        buyer: str = "",
        refunded_fen: int = 0,
        updated: int | None = None,
        state: str = "",
        platform: str = "tmall",
        completed: int | None = None,
    ) -> None:
        self.orders.append(
            {
                "id": oid,
                "seller_id": merchant,
                "platform_id": platform,
                "state": state or ("paid" if paid is not None else "created"),
                "total_fen": paid_fen,
                "paid_fen": paid_fen if paid is not None else 0,
                "refunded_fen": refunded_fen,
                "click_id": click,
                "device_hash": device,
                "buyer_hash": buyer or f"buyer-of-{oid}",
                "created_at": _ts(placed),
                "paid_at": _ts(paid) if paid is not None else None,
                "completed_at": _ts(completed) if completed is not None else None,
                "updated_at": _ts(updated or paid or placed),
            }
        )

    def write(self) -> pa.Table:
        """Write the files (one per day, as compaction and export do); the campaigns table."""
        self._write("clicks", self.clicks, CLICKS.arrow())
        self._write("impressions", self.views, IMPRESSIONS.arrow())
        spec = next(e for e in EXPORTS if e.kind == "orders")
        schema = pa.schema([pa.field(n, t) for n, t, _ in spec.columns])
        self._write("orders", self.orders, schema, stamp="updated_at")
        return pa.Table.from_pylist(self.campaigns, schema=CAMPAIGNS)

    def _write(
        self, kind: str, rows: list[dict[str, Any]], schema: pa.Schema, stamp: str = "ts"
    ) -> None:
        by_day: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            ms = int(row[stamp].timestamp() * 1000)
            by_day.setdefault(shanghai_day(ms), []).append(row)
        for day, day_rows in by_day.items():
            full = [{f.name: r.get(f.name, _default(f.type)) for f in schema} for r in day_rows]
            path = self.root / kind / f"day={day}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(full, schema=schema), path)


def _default(typ: pa.DataType) -> Any:
    if pa.types.is_boolean(typ):
        return False
    if pa.types.is_integer(typ):
        return 0
    if pa.types.is_timestamp(typ):
        return None
    return ""


__all__ = ["DAY", "HOUR", "T0", "Lake", "LogSchema"]
