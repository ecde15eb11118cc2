"""Append-only event log segments, one writer per process, fsync'd in groups.

Durability contract (docs/durability.md): ``append`` returns after ``write(2)`` has put the
record in the kernel's page cache, so a killed process loses nothing it acknowledged. A machine
crash can lose what was written since the last group fsync: at most ``fsync_ms`` milliseconds
of records (default 200 ms). Each line carries a CRC32 so a torn tail is recognised and dropped.

A segment is written as ``<name>.open``, locked with ``flock`` and only then renamed to
``<name>.log``; the writer holds the lock until the segment is rotated and fsync'd. A
compactor that can take the lock therefore knows no live process is still writing it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("hutong.lake")

ABANDONED_AFTER = 60.0  # seconds: an unlocked, empty .open file this old has no live writer
_CLEAN = {i: " " for i in range(0x20)} | {0x7F: " "}


def clean(text: str, limit: int = 512) -> str:
    """Make untrusted text safe for one tab-separated field (no tab, CR or LF survives)."""
    text = text[:limit]
    return text if text.isprintable() else text.translate(_CLEAN)


def encode_line(text: str) -> bytes:
    """A CRC-prefixed line from fields already joined by tabs and known to be clean."""
    payload = text.encode("utf-8", "replace")
    return b"%08x\t%b\n" % (zlib.crc32(payload), payload)


def encode_record(values: list[str]) -> bytes:
    """One CRC-prefixed line; a field holding a separator is cleaned, never allowed to split."""
    text = "\t".join(values)
    if text.count("\t") != len(values) - 1 or "\n" in text or "\r" in text:
        text = "\t".join(clean(v, len(v)) for v in values)
    payload = text.encode("utf-8", "replace")
    return b"%08x\t%b\n" % (zlib.crc32(payload), payload)


def decode_line(line: bytes) -> list[str] | None:
    """The fields of one line, or None for a torn or corrupted line."""
    if len(line) < 10 or line[8:9] != b"\t" or not line.endswith(b"\n"):
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
    except ValueError:
        return None
    return payload.decode("utf-8", "replace").split("\t")


class SegmentWriter:
    """Appends records to this process's current segment of one log kind."""

    def __init__(
        self, directory: Path, kind: str, *, fsync_ms: int = 200, rotate_seconds: int = 60
    ) -> None:
        self.directory = directory
        self.kind = kind
        self.fsync_interval = fsync_ms / 1000
        self.rotate_seconds = rotate_seconds
        self.writer_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = threading.Lock()
        self._seq = 0
        self._dirty = False
        self._retired: list[int] = []
        self._closed = False
        directory.mkdir(parents=True, exist_ok=True)
        self._fd, self._opened = self._open_segment()
        self._syncer = threading.Thread(target=self._sync_loop, name=f"fsync-{kind}", daemon=True)
        self._syncer.start()

    def _open_segment(self) -> tuple[int, float]:
        self._holds_records = False
        self._seq += 1
        stem = f"{self.kind}-{int(time.time() * 1000):013d}-{self.writer_id}-{self._seq:06d}"
        tmp = self.directory / f"{stem}.open"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(tmp, self.directory / f"{stem}.log")
        _fsync_dir(self.directory)
        return fd, time.monotonic()

    def append(self, values: list[str]) -> None:
        """Write one record; returns once the kernel holds it (see the module's contract)."""
        self.append_bytes(encode_record(values))

    def append_bytes(self, data: bytes) -> None:
        if time.monotonic() - self._opened >= self.rotate_seconds:
            self.rotate()
        os.write(self._fd, data)
        self._dirty = True
        self._holds_records = True

    def rotate(self) -> None:
        """Seal the current segment: a new one takes the writes, the old is fsync'd and closed."""
        with self._lock:
            if self._closed:
                return
            old = self._fd
            self._fd, self._opened = self._open_segment()
            self._retired.append(old)

    def _sync_once(self) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
            fd = self._fd if self._dirty and not self._closed else None
            self._dirty = False
            # fsync under the lock so rotate() cannot retire (and close) fd meanwhile.
            if fd is not None:
                os.fdatasync(fd)
        for old in retired:
            os.fdatasync(old)
            os.close(old)  # releases the flock: the segment is now sealed

    def _sync_loop(self) -> None:
        while not self._closed:
            time.sleep(self.fsync_interval)
            try:
                self._sync_once()
                if self._holds_records and time.monotonic() - self._opened >= self.rotate_seconds:
                    # an idle writer seals on time too, so compaction sees its last records;
                    # the old segment is closed at the next sync, as after any rotation
                    self.rotate()
            except OSError:
                log.exception("group fsync of the %s log failed", self.kind)

    def close(self) -> None:
        """fsync and seal everything (clean shutdown)."""
        self.rotate()
        with self._lock:
            self._closed = True
            retired, self._retired = [*self._retired, self._fd], []
        for fd in retired:
            os.fdatasync(fd)
            os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SealedSegment:
    """A segment no live writer holds, locked by this reader until ``release``."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def records(self) -> Iterator[list[str]]:
        with os.fdopen(os.dup(self._fd), "rb") as fh:
            fh.seek(0)
            for line in fh:
                fields = decode_line(line)
                if fields is not None:
                    yield fields

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def release(self) -> None:
        os.close(self._fd)


def sealed_segments(directory: Path, kind: str) -> Iterator[SealedSegment]:
    """Each segment of ``kind`` whose writer has sealed it or died, oldest first."""
    if not directory.exists():
        return
    for path in sorted(directory.glob(f"{kind}-*.log")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # another compactor took it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        yield SealedSegment(path, fd)
    for stale in directory.glob(f"{kind}-*.open"):
        _remove_abandoned(stale)


def _remove_abandoned(path: Path) -> None:
    """An ``.open`` file left by a writer that died before renaming it holds no records.

    Only one older than ABANDONED_AFTER: a live writer creates its ``.open`` file and takes
    the lock in two steps, and a file caught between them is unlocked and empty too. Removing
    it made that writer's rename fail (seen in CI: an idle writer's segment never sealed).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status = os.fstat(fd)
        if status.st_size == 0 and time.time() - status.st_mtime > ABANDONED_AFTER:
            path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
