"""The dependency audit: pip-audit over the locked dependencies, read against a reviewed
allowlist (requirements/audit-allowlist.toml). CI runs it after the tests.

    .venv/bin/python scripts/audit.py            # both locks, the report on stdout
    .venv/bin/python scripts/audit.py --json F   # read pip-audit's JSON from F (one lock)

What fails and what only warns, so that a newly published advisory is seen without breaking
unchanged code:

- an advisory the allowlist accepts is listed with the reason it was accepted;
- an advisory it does not accept is printed as NEW; it fails the run only when the lock it was
  found in is not the lock last reviewed (its SHA-256 differs from the allowlist's), so a
  change of dependencies must come clean or be reviewed, while an unchanged lock only warns;
- a package the advisory service could not be asked about is counted as unaudited, never
  passed silently (a machine that cannot reach PyPI's JSON API audits nothing);
- an allowlist entry without an id, a package or a reason fails the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("runtime", "dev")
ALLOWLIST = ROOT / "requirements" / "audit-allowlist.toml"


@dataclass
class Report:
    lock: str
    audited: int = 0
    unaudited: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


def load_allowlist(path: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The reviewed locks' hashes and the accepted advisories by id."""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    accepted: dict[str, dict[str, str]] = {}
    for entry in data.get("accepted", []):
        missing = [k for k in ("id", "package", "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ValueError(f"{path.name}: an accepted advisory lacks {', '.join(missing)}")
        accepted[entry["id"]] = entry
    return dict(data.get("reviewed", {})), accepted


def classify(lock: str, audit: dict[str, object], accepted: dict[str, dict[str, str]]) -> Report:
    """One lock's pip-audit answer sorted into audited, unaudited, accepted and new."""
    report = Report(lock)
    for dep in audit.get("dependencies", []):  # type: ignore[attr-defined]
        name, version = dep.get("name"), dep.get("version", "?")
        if "skip_reason" in dep:
            report.unaudited.append(f"{name}: {dep['skip_reason']}")
            continue
        report.audited += 1
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            known = next((accepted[i] for i in ids if i in accepted), None)
            line = f"{name} {version}: {' / '.join(ids)} (fixed in {fixes})"
            if known is not None and known["package"] == name:
                report.accepted.append(f"{line}; accepted: {known['reason']}")
            else:
                report.new.append(line)
    return report


def lock_digest(lock: str) -> str:
    return hashlib.sha256((ROOT / "requirements" / f"{lock}.lock").read_bytes()).hexdigest()


def run_pip_audit(lock: str) -> dict[str, object]:
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("pip-audit")),
            "--no-deps",  # the lock is complete and pinned: nothing to resolve
            "--disable-pip",
            "--progress-spinner=off",
            "-r",
            str(ROOT / "requirements" / f"{lock}.lock"),
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # pip-audit exits 1 when it finds a vulnerability; its JSON is on stdout either way
    try:
        answer: dict[str, object] = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        message = f"pip-audit gave no report for {lock}.lock: {done.stderr[-500:]}"
        raise RuntimeError(message) from exc
    return answer


def render(report: Report, reviewed: bool) -> list[str]:
    lines = [
        f"{report.lock}.lock: {report.audited} packages audited, {len(report.unaudited)} "
        f"unaudited, {len(report.accepted)} accepted advisories, {len(report.new)} new"
        + ("" if reviewed else " (this lock changed since the last review)")
    ]
    lines += [f"  NEW       {line}" for line in report.new]
    lines += [f"  accepted  {line}" for line in report.accepted]
    if report.unaudited:
        lines.append(f"  unaudited {len(report.unaudited)}, e.g. {report.unaudited[0]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="a pip-audit JSON report to read instead")
    parser.add_argument("--lock", choices=LOCKS, default="runtime", help="with --json")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    args = parser.parse_args()
    reviewed, accepted = load_allowlist(args.allowlist)
    failed = False
    for lock in [args.lock] if args.json else list(LOCKS):
        audit = json.loads(args.json.read_text()) if args.json else run_pip_audit(lock)
        report = classify(lock, audit, accepted)
        same = reviewed.get(f"{lock}_lock_sha256") == lock_digest(lock)
        print("\n".join(render(report, same)))
        failed |= bool(report.new) and not same
    if failed:
        sys.exit("audit: a changed lock brings advisories nobody reviewed (see NEW above)")


if __name__ == "__main__":
    main()
