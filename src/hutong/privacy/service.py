"""Retention and deletion of personal data (docs/privacy.md).

Personal data hutong holds: keyed hashes of device ids, of IP address + User-Agent, and of
buyer references; the User-Agent text of clicks. Retention: lake partitions older than
``HUTONG_PII_RETENTION_DAYS`` (180 by default) lose their personal columns, and conversions
older than that lose their buyer hash. ``hutong privacy forget`` removes one person's rows now.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import update

from hutong.commerce.models import Order
from hutong.config import Settings
from hutong.lake.compact import SHANGHAI, write_atomic
from hutong.privacy.hashing import KeyedHasher
from hutong.store import Store, utcnow
from hutong.traffic.models import Conversion

PERSONAL_COLUMNS = ("device_key", "ip_hash", "ua")


def _lake_files(lake_dir: Path) -> list[Path]:
    return sorted(lake_dir.glob("*/day=*/*.parquet"))


def _strip_personal(path: Path) -> bool:
    table = pq.read_table(path)
    changed = False
    for name in PERSONAL_COLUMNS:
        if name in table.column_names:
            column = table[name]
            if pc.any(pc.not_equal(column, "")).as_py():
                idx = table.column_names.index(name)
                table = table.set_column(idx, name, pa.array([""] * len(table), pa.string()))
                changed = True
    if changed:
        write_atomic(table, path)
    return changed


def purge_expired(settings: Settings, store: Store) -> int:
    """Strip personal columns from lake days past retention; drop old buyer hashes."""
    cutoff = (dt.datetime.now(SHANGHAI) - dt.timedelta(days=settings.pii_retention_days)).date()
    changed = 0
    for path in _lake_files(settings.lake_dir):
        day = dt.date.fromisoformat(path.parent.name.removeprefix("day="))
        if day < cutoff and _strip_personal(path):
            changed += 1
    limit = utcnow() - dt.timedelta(days=settings.pii_retention_days)
    with store.transaction() as session:
        result = session.execute(
            update(Conversion)
            .where(Conversion.created_at < limit, Conversion.buyer_hash.is_not(None))
            .values(buyer_hash=None)
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
        # addresses are kept while an order can still be shipped, returned or disputed
        finished = ("completed", "cancelled", "refunded")
        result = session.execute(
            update(Order)
            .where(Order.updated_at < limit, Order.state.in_(finished))
            .values(ship_to={})
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


def _scrub(path: Path, column: str, value: str) -> int:
    """Blank one person's hash in an exported table (orders stay: they are the sellers' books)."""
    table = pq.read_table(path)
    if column not in table.column_names:
        return 0
    hit = pc.fill_null(pc.equal(table[column], value), False)
    count = pc.sum(hit).as_py() or 0
    if count:
        idx = table.column_names.index(column)
        blanked = pc.if_else(hit, pa.scalar(None, pa.string()), table[column])
        write_atomic(table.set_column(idx, column, blanked), path)
    return int(count)


def forget(settings: Settings, store: Store, kind: str, value: str) -> dict[str, int]:
    """Delete one person's rows: lake events keyed by their device id, their hashes in the
    exported orders, and their buyer hash in the store."""
    hasher = KeyedHasher(settings.pii_key)
    removed = {"lake_rows": 0, "conversions": 0, "orders": 0}
    buyer = hasher.hash("buyer", value)
    device = hasher.hash("device", value) if kind == "device" else None
    for path in _lake_files(settings.lake_dir):
        removed["lake_rows"] += _scrub(path, "buyer_hash", buyer)
        if device is None:
            continue
        removed["lake_rows"] += _scrub(path, "device_hash", device)
        table = pq.read_table(path)
        if "device_key" not in table.column_names:
            continue
        kept = table.filter(pc.not_equal(table["device_key"], device))
        if kept.num_rows != table.num_rows:
            removed["lake_rows"] += table.num_rows - kept.num_rows
            write_atomic(kept, path)
    with store.transaction() as session:
        result = session.execute(
            update(Conversion).where(Conversion.buyer_hash == buyer).values(buyer_hash=None)
        )
        removed["conversions"] = int(getattr(result, "rowcount", 0) or 0)
        # the orders stay (they are the sellers' books); who placed them and where they went
        # do not
        result = session.execute(
            update(Order)
            .where(Order.buyer_hash == buyer)
            .values(ship_to={}, buyer_hash="forgotten", device_hash=None)
        )
        removed["orders"] = int(getattr(result, "rowcount", 0) or 0)
        if device is not None:
            result = session.execute(
                update(Order).where(Order.device_hash == device).values(device_hash=None)
            )
            removed["orders"] += int(getattr(result, "rowcount", 0) or 0)
    return removed
