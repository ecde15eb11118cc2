"""Which modules of the redirect's hot path run compiled (mypyc), and whether that build is
current.

``setup.py`` compiles the modules in ``HOT_PATH`` into C extensions placed beside their
sources and records each source's SHA-256 in ``native_build.json``. Python imports an extension
before a ``.py`` of the same name, so after an edit the old extension would keep running: a
module whose source no longer matches its recorded hash is *stale*. ``bootstrap.sh`` rebuilds
then, the test suite refuses to run against a stale build, and ``hutong serve`` says which
modules it runs compiled. ``python -m hutong.native`` prints the status (exit 1 if stale).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

HOT_PATH = (
    "hutong.traffic.listener",
    "hutong.traffic.jump",
    "hutong.traffic.guard",
    "hutong.traffic.tokens",
    "hutong.traffic.cached",
    "hutong.traffic.policy",
    "hutong.traffic.urls",
    "hutong.traffic.useragent",
)
MANIFEST = Path(__file__).with_name("native_build.json")


@dataclass
class NativeStatus:
    compiled: list[str] = field(default_factory=list)
    interpreted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.stale:
            return f"STALE compiled modules (rebuild: bash scripts/bootstrap.sh): {self.stale}"
        if not self.compiled:
            return "hot path interpreted (not compiled: slower, same behaviour)"
        if self.interpreted:
            return f"hot path partly compiled; interpreted: {self.interpreted}"
        return f"hot path compiled ({len(self.compiled)} modules)"


def _source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def status() -> NativeStatus:
    recorded: dict[str, str] = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    result = NativeStatus()
    for name in HOT_PATH:
        module = importlib.import_module(name)
        loaded = Path(module.__file__ or "")
        if loaded.suffix == ".py":
            result.interpreted.append(name)
            continue
        source = loaded.with_name(name.rsplit(".", 1)[1] + ".py")
        key = name.replace(".", "/") + ".py"
        if not source.exists() or recorded.get(key) != _source_hash(source):
            result.stale.append(name)
        else:
            result.compiled.append(name)
    result.stale.extend(_orphans())
    return result


def _orphans() -> list[str]:
    """Compiled modules left from a build whose module list differed (they shadow sources)."""
    package = Path(__file__).parent
    found = []
    for built in package.rglob("*.so"):
        parts = built.relative_to(package.parent).parts
        name = ".".join([*parts[:-1], built.name.split(".", 1)[0]])
        if name not in HOT_PATH:
            found.append(name)
    return sorted(found)


def main() -> int:
    found = status()
    print(found.describe())
    return 1 if found.stale else 0


if __name__ == "__main__":
    sys.exit(main())
