"""Event logs and their compaction: every record in the lake exactly once, whatever happens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from hutong.lake.compact import compact, lake_glob
from hutong.lake.schema import CLICKS
from hutong.lake.segments import (
    ABANDONED_AFTER,
    SealedSegment,
    SegmentWriter,
    decode_line,
    encode_record,
    sealed_segments,
)


def record(i: int, ms: int) -> list[str]:
    values = [""] * len(CLICKS.columns)
    names = CLICKS.names
    values[names.index("event_id")] = f"e{i:08d}"
    values[names.index("click_id")] = f"e{i:08d}"
    values[names.index("ts")] = str(ms)
    values[names.index("policy_version")] = "3"
    for flag in ("allowed", "duplicate", "bot", "billable"):
        values[names.index(flag)] = "1" if i % 2 else "0"
    values[names.index("ua")] = "tab\there\nnewline"  # separators inside a field are cleaned
    return values


def lake_ids(lake: Path) -> list[str]:
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT event_id FROM read_parquet(?, hive_partitioning=true)",
            [lake_glob(lake, "clicks")],
        ).fetchall()
    return [r[0] for r in rows]


def test_lines_round_trip_and_torn_lines_are_dropped() -> None:
    line = encode_record(["a", "b\u4e2d", "c"])
    assert decode_line(line) == ["a", "b\u4e2d", "c"]
    assert decode_line(line[:-1]) is None  # torn: no newline
    assert decode_line(line[:5] + b"x" + line[6:]) is None  # a changed byte fails the CRC
    assert decode_line(encode_record(["a\tb", "c\nd"])) == ["a b", "c d"]


def test_compaction_is_exactly_once_and_partitions_by_shanghai_day(tmp_path: Path) -> None:
    logs, lake = tmp_path / "log", tmp_path / "lake"
    writer = SegmentWriter(logs, "clicks", fsync_ms=10)
    # 2024-11-10 15:59:59.999 UTC is 23:59:59.999 in Shanghai; one ms later is Double 11 there
    edge = 1731254399999
    for i in range(100):
        writer.append(record(i, edge + (i % 2)))
    assert compact(logs, lake, CLICKS).rows == 0  # the live writer holds its segment
    writer.rotate()
    time.sleep(0.1)  # the fsync thread seals the old segment
    result = compact(logs, lake, CLICKS)
    assert (result.segments, result.rows, result.files) == (1, 100, 2)
    days = sorted(p.name for p in (lake / "clicks").iterdir())
    assert days == ["day=2024-11-10", "day=2024-11-11"]
    writer.close()
    compact(logs, lake, CLICKS)
    assert sorted(lake_ids(lake)) == [f"e{i:08d}" for i in range(100)]


def test_a_crash_between_parquet_and_delete_rewrites_not_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs, lake = tmp_path / "log", tmp_path / "lake"
    writer = SegmentWriter(logs, "clicks", fsync_ms=10)
    for i in range(50):
        writer.append(record(i, 1731254400000 + i))
    writer.close()

    def crash(self: SealedSegment) -> None:
        raise RuntimeError("killed before the segment was deleted")

    monkeypatch.setattr(SealedSegment, "delete", crash)
    with pytest.raises(RuntimeError):
        compact(logs, lake, CLICKS)
    monkeypatch.undo()
    assert len(lake_ids(lake)) == 50
    compact(logs, lake, CLICKS)
    assert sorted(lake_ids(lake)) == [f"e{i:08d}" for i in range(50)]
    assert not list(logs.glob("*.log"))


def test_a_killed_writer_leaves_a_segment_that_compacts_without_its_torn_tail(
    tmp_path: Path,
) -> None:
    logs, lake = tmp_path / "log", tmp_path / "lake"
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from hutong.lake.segments import SegmentWriter
from tests.lake.test_segments import record
w = SegmentWriter(__import__("pathlib").Path({str(logs)!r}), "clicks", fsync_ms=1000)
for i in range(30):
    w.append(record(i, 1731254400000))
os.write(w._fd, b"0000dead\\ttorn record without newline")
print("written", flush=True)
sys.stdin.read()
"""
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
        assert compact(logs, lake, CLICKS).rows == 0  # alive: its lock is held
        proc.kill()
        proc.wait()
    assert compact(logs, lake, CLICKS).rows == 30
    assert len(lake_ids(lake)) == 30


def test_concurrent_compactors_do_not_duplicate(tmp_path: Path) -> None:
    logs, lake = tmp_path / "log", tmp_path / "lake"
    for _ in range(4):
        writer = SegmentWriter(logs, "clicks", fsync_ms=10)
        for i in range(25):
            writer.append(record(len(list(logs.glob("*.log"))) * 1000 + i, 1731254400000))
        writer.close()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                (
                    f"import sys, pathlib; sys.path.insert(0, {str(Path(__file__).parents[2])!r});"
                    "from hutong.lake.compact import compact;"
                    "from hutong.lake.schema import CLICKS;"
                    f"compact(pathlib.Path({str(logs)!r}), pathlib.Path({str(lake)!r}), CLICKS)"
                ),
            ]
        )
        for _ in range(3)
    ]
    assert all(p.wait() == 0 for p in procs)
    ids = lake_ids(lake)
    assert len(ids) == len(set(ids)) == 100
    assert not os.listdir(logs) or not list(logs.glob("*.log"))


def test_an_idle_writer_seals_its_segment_on_time(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "clicks", fsync_ms=20, rotate_seconds=1)
    try:
        writer.append(["only", "record"])
        assert list(sealed_segments(tmp_path, "clicks")) == []  # still being written
        deadline = time.monotonic() + 10
        sealed: list[SealedSegment] = []
        while not sealed and time.monotonic() < deadline:
            time.sleep(0.05)
            sealed = list(sealed_segments(tmp_path, "clicks"))
        assert [list(s.records()) for s in sealed] == [[["only", "record"]]]
        for s in sealed:
            s.release()
        time.sleep(1.5)
        assert len(list(tmp_path.glob("clicks-*.log"))) == 2  # an empty segment stays open
    finally:
        writer.close()


def test_a_writer_between_creating_and_locking_its_segment_is_left_alone(tmp_path: Path) -> None:
    """A writer creates its ``.open`` file, then locks it: a compactor looking in between finds
    it empty and unlocked, as if abandoned. Only one old enough is removed."""
    fresh = tmp_path / "clicks-0000000000001-host-1-abcdef-000001.open"
    fresh.touch()  # a live writer's, caught before its flock
    old = tmp_path / "clicks-0000000000001-host-2-abcdef-000001.open"
    old.touch()
    then = time.time() - 2 * ABANDONED_AFTER
    os.utime(old, (then, then))  # a writer that died before renaming it
    assert list(sealed_segments(tmp_path, "clicks")) == []
    assert fresh.exists() and not old.exists()
