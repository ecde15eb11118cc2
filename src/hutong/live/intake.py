"""Event intake of live sessions: batches from the platforms, written to the live-event log and
applied to the session's counters in memory.

Durability: a batch is appended to the ``live_events`` log (the lake's contract: a killed
process loses nothing it acknowledged; a machine crash at most the last group-fsync interval)
*before* it is applied and acknowledged; a retried batch is logged again and applied once. The
counters are memory: after a restart a session's counters are rebuilt, on first use, from its
events in the log segments and then in the lake (read in that order, so that a segment
compacted meanwhile is found in the lake; duplicates are applied once).

One process holds a session's counters: ``hutong serve`` is that process. A fleet would
route a session's events and readers to one process by session id (not built).

The platforms' string ids become the columns' integers here: event ids, viewers and orders
are interned per session in order of arrival. Viewers are logged as keyed hashes (PIPL);
the platform's viewer id is not kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
from sqlalchemy.orm import Session

from hutong.errors import InvalidInput
from hutong.lake.schema import LIVE_EVENTS
from hutong.lake.segments import SegmentWriter, decode_line, encode_record
from hutong.live import service
from hutong.live.counters import KIND, SPAN_MS, Batch, LiveCounters
from hutong.live.models import LiveSession, SessionState
from hutong.live.schemas import LiveEventIn, LiveEventsIn, LiveEventsOut
from hutong.privacy.hashing import KeyedHasher
from hutong.tenants.principal import Principal

# event_id, kind, ts_ms, viewer_key, product_ref, order_ref, amount_fen
Row = tuple[str, str, int, str, str, str, int]


@dataclass
class SessionCounters:
    """One session's counters, and the interning of its string ids into their integers."""

    counters: LiveCounters
    shelf: list[str]
    applied: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _events: dict[str, int] = field(default_factory=dict)
    _viewers: dict[str, int] = field(default_factory=dict)
    _orders: dict[str, int] = field(default_factory=dict)
    _products: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._products = {ref: i for i, ref in enumerate(self.shelf)}

    def apply(self, rows: list[Row]) -> int:
        """Count the rows not seen before; how many were new."""
        with self.lock:
            batch = Batch(
                event_id=self._intern(self._events, (r[0] for r in rows), len(rows)),
                kind=np.fromiter((KIND[r[1]] for r in rows), np.int8, len(rows)),
                ts_ms=np.fromiter((r[2] for r in rows), np.int64, len(rows)),
                viewer=self._intern(self._viewers, (r[3] for r in rows), len(rows)),
                product=np.fromiter((self._product(r[4]) for r in rows), np.int64, len(rows)),
                order=self._intern(self._orders, (r[5] for r in rows), len(rows)),
                amount_fen=np.fromiter((r[6] for r in rows), np.int64, len(rows)),
            )
            new = self.counters.add(batch)
            self.applied += new
            return new

    @staticmethod
    def _intern(table: dict[str, int], values: Iterable[str], n: int) -> np.ndarray:
        return np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, n)

    def _product(self, ref: str) -> int:
        """The shelf position; a product the platform reports that is not on the recorded
        shelf is counted under its ref after the shelf's products."""
        if not ref:
            return -1
        index = self._products.get(ref)
        if index is None:
            index = self._products[ref] = len(self.shelf)
            self.shelf.append(ref)
        return index

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return self.counters.snapshot(self.shelf) | {"applied": self.applied}


class LiveHub:
    def __init__(
        self, writer: SegmentWriter, hasher: KeyedHasher, log_dir: Path, lake_dir: Path
    ) -> None:
        self.writer = writer
        self.hasher = hasher
        self.log_dir = log_dir
        self.lake_dir = lake_dir
        self._sessions: dict[str, SessionCounters] = {}
        self._lock = threading.Lock()

    def ingest(
        self, session: Session, who: Principal, session_id: str, body: LiveEventsIn
    ) -> LiveEventsOut:
        """Log the batch, then count it. Only the session's platform (or the operator)
        reports its events."""
        live = service.writable_session(session, who, session_id)
        rows = self._rows(live, body.events)
        received_ms = str(int(time.time() * 1000))
        self.writer.append_bytes(
            b"".join(
                encode_record(
                    [r[0], live.id, str(r[2]), r[1], r[3], r[4], r[5], str(r[6]), received_ms]
                )
                for r in rows
            )
        )
        counters = self.counters_for(session, live)
        applied = counters.apply(rows)
        if live.state == SessionState.SCHEDULED.value:
            live.state = SessionState.LIVE.value
        return LiveEventsOut(received=len(rows), applied=applied, duplicates=len(rows) - applied)

    def _rows(self, live: LiveSession, events: list[LiveEventIn]) -> list[Row]:
        """The batch's rows, checked: within 99 days of the start, and naming what its kind
        needs (a viewer enters or leaves; an order or refund names its order)."""
        start_ms = int(live.starts_at.timestamp() * 1000)
        viewer_of = f"{live.platform_id}:"
        rows: list[Row] = []
        for i, e in enumerate(events):
            kind, viewer = e["kind"], e.get("viewer", "")
            if abs(e["ts_ms"] - start_ms) >= SPAN_MS:
                raise InvalidInput(f"events[{i}]: more than 99 days from the session's start")
            if kind in ("enter", "leave") and not viewer:
                raise InvalidInput(f"events[{i}]: a {kind} event names its viewer")
            money = kind in ("order", "refund")
            if money and not e.get("order_ref"):
                raise InvalidInput(f"events[{i}]: a {kind} event names its order_ref")
            rows.append(
                (
                    e["event_id"],
                    kind,
                    e["ts_ms"],
                    self.hasher.hash("viewer", viewer_of + viewer) if viewer else "",
                    e.get("product_ref", ""),
                    e.get("order_ref", "") if money else "",
                    e.get("amount_fen", 0) if money else 0,
                )
            )
        return rows

    def counters_for(self, session: Session, live: LiveSession) -> SessionCounters:
        with self._lock:
            found = self._sessions.get(live.id)
            if found is None:
                shelf = [p.product_ref for p in service.products_of(session, live.id)]
                start_ms = int(live.starts_at.timestamp() * 1000)
                found = SessionCounters(LiveCounters(start_ms), shelf)
                rows = self._logged(live.id)
                if rows:
                    found.apply(rows)
                self._sessions[live.id] = found
            return found

    def _logged(self, session_id: str) -> list[Row]:
        """The session's events already recorded: the log segments, then the lake."""
        rows: list[Row] = []
        width = len(LIVE_EVENTS.columns)
        for path in sorted(self.log_dir.glob(f"{LIVE_EVENTS.kind}-*.log")):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # compacted since listed: the lake has it
            for line in data.splitlines(keepends=True):
                f = decode_line(line)
                if f is not None and len(f) == width and f[1] == session_id:
                    rows.append((f[0], f[3], int(f[2]), f[4], f[5], f[6], int(f[7] or 0)))
        lake = self.lake_dir / LIVE_EVENTS.kind
        if lake.exists():
            table = ds.dataset(lake, format="parquet", partitioning="hive").to_table(
                columns=list(LIVE_EVENTS.names), filter=ds.field("session_id") == session_id
            )
            ts = table.column("ts").cast("int64").to_pylist()
            cols = [table.column(n).to_pylist() for n in LIVE_EVENTS.names]
            for i in range(table.num_rows):
                rows.append(
                    (
                        cols[0][i],
                        cols[3][i],
                        ts[i],
                        cols[4][i],
                        cols[5][i],
                        cols[6][i],
                        cols[7][i] or 0,
                    )
                )
        return rows
