"""Compaction: sealed log segments become Parquet files partitioned by Asia/Shanghai day.

Exactly once: a segment's rows go to files named after the segment (one per day it spans),
written to a temporary name and renamed; the segment is deleted only after its files exist.
A crash in between makes the next run rewrite the same files with the same rows, never a
second copy.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from hutong.lake.schema import TS, LogSchema
from hutong.lake.segments import SealedSegment, sealed_segments

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, SHANGHAI).date().isoformat()


@dataclass
class CompactionResult:
    segments: int = 0
    rows: int = 0
    files: int = 0


def _convert(value: str, typ: pa.DataType) -> object:
    if typ == TS or pa.types.is_int64(typ):
        return int(value) if value else None
    if pa.types.is_boolean(typ):
        return value == "1"
    return value


def _rows_by_day(segment: SealedSegment, schema: LogSchema) -> dict[str, list[list[str]]]:
    by_day: dict[str, list[list[str]]] = defaultdict(list)
    ts_index = schema.names.index("ts")
    width = len(schema.columns)
    for fields in segment.records():
        if len(fields) != width:
            continue  # a record from another schema version is kept in the segment's log line
        by_day[shanghai_day(int(fields[ts_index]))].append(fields)
    return by_day


def _table(rows: list[list[str]], schema: LogSchema) -> pa.Table:
    arrays = []
    for i, (_, typ) in enumerate(schema.columns):
        arrays.append(pa.array([_convert(r[i], typ) for r in rows], type=typ))
    return pa.Table.from_arrays(arrays, schema=schema.arrow())


def write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact(log_dir: Path, lake_dir: Path, schema: LogSchema) -> CompactionResult:
    """Move every sealed segment of ``schema.kind`` into the lake; safe to run concurrently."""
    result = CompactionResult()
    for segment in sealed_segments(log_dir, schema.kind):
        try:
            stem = segment.path.stem
            for day, rows in sorted(_rows_by_day(segment, schema).items()):
                target = lake_dir / schema.kind / f"day={day}" / f"{stem}.parquet"
                write_atomic(_table(rows, schema), target)
                result.files += 1
                result.rows += len(rows)
            segment.delete()
            result.segments += 1
        finally:
            segment.release()
    return result


def lake_glob(lake_dir: Path, kind: str) -> str:
    return str(lake_dir / kind / "day=*" / "*.parquet")
