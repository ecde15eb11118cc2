"""The dependency audit's reading of pip-audit's report: accepted advisories pass with their
reason, a new one warns on an unchanged lock and fails on a changed one, and a package that
could not be audited is counted, never passed silently."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


audit = _module()

REPORT = {
    "dependencies": [
        {"name": "fastapi", "version": "0.1", "vulns": []},
        {
            "name": "jinja2",
            "version": "3.0.0",
            "vulns": [
                {"id": "PYSEC-1", "aliases": ["GHSA-aaaa"], "fix_versions": ["3.1.3"]},
                {"id": "GHSA-bbbb", "aliases": [], "fix_versions": []},
            ],
        },
        {"name": "ada-url", "skip_reason": "Dependency not found on PyPI"},
    ],
    "fixes": [],
}


def allowlist(tmp_path: Path, reviewed_lock: str | None, entries: str) -> Path:
    path = tmp_path / "allow.toml"
    digest = audit.lock_digest("runtime") if reviewed_lock == "current" else "0" * 64
    path.write_text(f'[reviewed]\nruntime_lock_sha256 = "{digest}"\n{entries}')
    return path


ACCEPT_A = '[[accepted]]\nid = "GHSA-aaaa"\npackage = "jinja2"\nreason = "sandbox unused"\n'


def test_advisories_are_sorted_into_accepted_new_and_unaudited(tmp_path: Path) -> None:
    _, accepted = audit.load_allowlist(allowlist(tmp_path, "current", ACCEPT_A))
    report = audit.classify("runtime", REPORT, accepted)
    assert report.audited == 2
    assert report.unaudited == ["ada-url: Dependency not found on PyPI"]
    assert report.accepted == [
        "jinja2 3.0.0: PYSEC-1 / GHSA-aaaa (fixed in 3.1.3); accepted: sandbox unused"
    ]
    assert report.new == ["jinja2 3.0.0: GHSA-bbbb (fixed in no fixed version)"]


def test_an_acceptance_is_for_its_own_package_only(tmp_path: Path) -> None:
    other = ACCEPT_A.replace('"jinja2"', '"markupsafe"')
    _, accepted = audit.load_allowlist(allowlist(tmp_path, "current", other))
    assert len(audit.classify("runtime", REPORT, accepted).new) == 2


def _run(tmp_path: Path, allow: Path) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(REPORT))
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(report), "--allowlist", str(allow)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_new_advisory_warns_on_the_reviewed_lock_and_fails_on_a_changed_one(
    tmp_path: Path,
) -> None:
    unchanged = _run(tmp_path, allowlist(tmp_path, "current", ACCEPT_A))
    assert unchanged.returncode == 0, unchanged.stderr
    assert "NEW       jinja2 3.0.0: GHSA-bbbb" in unchanged.stdout
    changed = _run(tmp_path, allowlist(tmp_path, None, ACCEPT_A))
    assert changed.returncode == 1
    assert "changed since the last review" in changed.stdout
    assert "nobody reviewed" in changed.stderr


def test_an_acceptance_without_a_reason_is_refused(tmp_path: Path) -> None:
    bad = ACCEPT_A.replace('reason = "sandbox unused"', 'reason = " "')
    with pytest.raises(ValueError, match="lacks reason"):
        audit.load_allowlist(allowlist(tmp_path, "current", bad))


def test_the_project_allowlist_is_well_formed_and_names_both_locks() -> None:
    reviewed, _ = audit.load_allowlist(audit.ALLOWLIST)
    assert {"runtime_lock_sha256", "dev_lock_sha256"} <= set(reviewed)
