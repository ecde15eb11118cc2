"""Incremental export of orders, payments, refunds and alliance order lines from the store into
the lake, so that analytics (attribution, settlement, insights) never reads the live store.

Rows change (an order is paid, then refunded), so the lake keeps *versions*: each export writes
the rows whose ``updated_at`` moved since the last one into
``lake/<kind>/day=<Asia/Shanghai day of updated_at>/export-<run>.parquet``; readers take each
id's latest version (``latest_sql``). An export reads from ``watermark - OVERLAP``: a row whose
transaction committed up to ``OVERLAP`` after it stamped ``updated_at`` is still caught, and a
row exported twice is the same version twice, which the readers' dedupe absorbs. The watermark
is stored in ``lake_watermarks`` in the same store; ``hutong lake export --full`` starts over.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hutong.commerce.models import Order
from hutong.lake.compact import SHANGHAI, write_atomic
from hutong.payments.models import Payment, Refund
from hutong.settlement.models import AllianceOrder
from hutong.store import Base, Store, UTCDateTime

OVERLAP = dt.timedelta(seconds=60)
TS = pa.timestamp("ms", tz="UTC")


class LakeWatermark(Base):
    __tablename__ = "lake_watermarks"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    exported_through: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Export:
    kind: str
    model: Any
    columns: tuple[tuple[str, pa.DataType, Callable[[Any], Any]], ...]


def _col(name: str, typ: pa.DataType) -> tuple[str, pa.DataType, Callable[[Any], Any]]:
    return name, typ, lambda row: getattr(row, name)


EXPORTS = (
    Export(
        "orders",
        Order,
        (
            _col("id", pa.string()),
            _col("seller_id", pa.string()),
            _col("platform_id", pa.string()),
            _col("state", pa.string()),
            _col("currency", pa.string()),
            _col("total_fen", pa.int64()),
            _col("deposit_fen", pa.int64()),
            _col("paid_fen", pa.int64()),
            _col("refunded_fen", pa.int64()),
            _col("presale", pa.bool_()),
            _col("click_id", pa.string()),
            _col("click_bot", pa.bool_()),
            _col("link_id", pa.string()),
            _col("campaign_id", pa.string()),
            _col("buyer_hash", pa.string()),
            _col("device_hash", pa.string()),
            _col("region", pa.string()),
            _col("created_at", TS),
            _col("paid_at", TS),
            _col("completed_at", TS),
            _col("updated_at", TS),
        ),
    ),
    Export(
        "payments",
        Payment,
        (
            _col("id", pa.string()),
            _col("order_id", pa.string()),
            _col("seller_id", pa.string()),
            _col("provider", pa.string()),
            _col("phase", pa.string()),
            _col("amount_fen", pa.int64()),
            _col("refunded_fen", pa.int64()),
            _col("state", pa.string()),
            _col("applied", pa.bool_()),
            _col("out_trade_no", pa.string()),
            _col("succeeded_at", TS),
            _col("updated_at", TS),
        ),
    ),
    Export(
        "refunds",
        Refund,
        (
            _col("id", pa.string()),
            _col("order_id", pa.string()),
            _col("payment_id", pa.string()),
            _col("amount_fen", pa.int64()),
            _col("state", pa.string()),
            _col("out_refund_no", pa.string()),
            _col("succeeded_at", TS),
            _col("updated_at", TS),
        ),
    ),
    Export(
        "alliance_orders",
        AllianceOrder,
        (
            _col("id", pa.string()),
            _col("account_id", pa.string()),
            _col("platform", pa.string()),
            _col("order_ref", pa.string()),
            _col("position_id", pa.string()),
            _col("state", pa.string()),
            _col("amount_fen", pa.int64()),
            _col("commission_fen", pa.int64()),
            _col("placed_at", TS),
            _col("paid_at", TS),
            _col("confirmed_at", TS),
            _col("settled_at", TS),
            _col("updated_at", TS),
        ),
    ),
)


def export(
    store: Store, lake_dir: Path, *, full: bool = False, batch: int = 50_000
) -> dict[str, int]:
    """Write every changed row since the last run (all rows with ``full``); rows per kind."""
    written: dict[str, int] = {}
    run = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    for spec in EXPORTS:
        with store.transaction() as session:
            written[spec.kind] = _export_kind(session, spec, lake_dir, run, full, batch)
    return written


def _export_kind(
    session: Session, spec: Export, lake_dir: Path, run: str, full: bool, batch: int
) -> int:
    mark = session.get(LakeWatermark, spec.kind, with_for_update=True)
    start = None if full or mark is None else mark.exported_through - OVERLAP
    query = select(spec.model).order_by(spec.model.updated_at, spec.model.id)
    if start is not None:
        query = query.where(spec.model.updated_at >= start)
    by_day: dict[str, list[Any]] = defaultdict(list)
    newest = mark.exported_through if mark is not None and not full else None
    count = 0
    for row in session.scalars(query.execution_options(yield_per=batch)):
        by_day[row.updated_at.astimezone(SHANGHAI).date().isoformat()].append(row)
        newest = row.updated_at if newest is None or row.updated_at > newest else newest
        count += 1
    for day, rows in by_day.items():
        table = pa.Table.from_arrays(
            [pa.array([get(r) for r in rows], type=typ) for _, typ, get in spec.columns],
            schema=pa.schema([pa.field(name, typ) for name, typ, _ in spec.columns]),
        )
        write_atomic(table, lake_dir / spec.kind / f"day={day}" / f"export-{run}.parquet")
    if newest is not None:
        if mark is None:
            session.add(LakeWatermark(kind=spec.kind, exported_through=newest))
        else:
            mark.exported_through = newest
    return count


def latest_sql(lake_dir: Path, kind: str) -> str:
    """A DuckDB/Spark-neutral SELECT of each id's latest exported version of ``kind``."""
    path = str(lake_dir / kind / "day=*" / "*.parquet")
    return (
        "SELECT * EXCLUDE (rn) FROM ("  # noqa: S608 - a path hutong builds, no user input
        f"SELECT *, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) AS rn "
        f"FROM read_parquet('{path}', hive_partitioning = false)) WHERE rn = 1"
    )
