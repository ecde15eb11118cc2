"""The compiled hot path: the build list agrees with the checker, and staleness is caught."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from hutong import native

ROOT = Path(__file__).resolve().parents[1]


def test_setup_compiles_exactly_the_modules_the_checker_watches() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    built = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "HOT_PATH" for t in node.targets)
    )
    assert [p.removesuffix(".py").replace("/", ".") for p in built] == list(native.HOT_PATH)


def test_a_changed_source_makes_its_compiled_module_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = native.status()
    if not found.compiled:
        pytest.skip("the hot path is interpreted here (HUTONG_PURE_PYTHON=1 build)")
    recorded = json.loads(native.MANIFEST.read_text())
    first = found.compiled[0].replace(".", "/") + ".py"
    recorded[first] = "0" * 64
    manifest = tmp_path / "native_build.json"
    manifest.write_text(json.dumps(recorded))
    monkeypatch.setattr(native, "MANIFEST", manifest)
    again = native.status()
    assert again.stale == [found.compiled[0]]
    assert "STALE" in again.describe()
