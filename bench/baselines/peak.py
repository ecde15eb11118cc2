"""Shared by the baselines (they run in bench/.venv and import nothing of hutong's)."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float:
    """This process's resident high-water mark (``VmHWM``; ``ru_maxrss`` would count the
    parent's memory from before the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
