"""The scenario file: ``double11.toml`` beside this module, or a user's copy of it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).with_name("double11.toml")


def load_scenario(path: Path | None = None) -> dict[str, Any]:
    with open(path or SCENARIO, "rb") as fh:
        return tomllib.load(fh)
