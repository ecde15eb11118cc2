"""Build hook: the redirect's hot path is compiled to C with mypyc.

``GET /j/{code}`` must answer at half of nginx's rate on one core (docs/performance.md); the
interpreted path reaches a third. The modules below are plain, type-checked Python that mypyc
turns into C extensions placed beside their sources; the sources stay the truth, and
``hutong.native`` tells which modules run compiled and refuses stale builds.
``HUTONG_PURE_PYTHON=1`` at install time skips the compilation (slower, same behaviour) and
removes old extensions; ``HUTONG_NATIVE_KEEP=1`` installs without building and keeps the
extensions already beside the sources (bootstrap.sh uses it when they are current).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
# Kept in step with hutong.native.HOT_PATH (a test checks the two agree).
HOT_PATH = (
    "hutong/traffic/listener.py",
    "hutong/traffic/jump.py",
    "hutong/traffic/guard.py",
    "hutong/traffic/tokens.py",
    "hutong/traffic/cached.py",
    "hutong/traffic/policy.py",
    "hutong/traffic/urls.py",
    "hutong/traffic/useragent.py",
)
MANIFEST = HERE / "src" / "hutong" / "native_build.json"


class BuildWithManifest(build_ext):
    """build_ext that records the hash of each compiled source, to detect stale builds."""

    def run(self) -> None:
        remove_old_builds()
        super().run()
        hashes = {p: hashlib.sha256((HERE / "src" / p).read_bytes()).hexdigest() for p in HOT_PATH}
        MANIFEST.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")


def remove_old_builds() -> None:
    """Extensions of an earlier build would shadow the sources (or a module since dropped)."""
    MANIFEST.unlink(missing_ok=True)
    for built in [*(HERE / "src" / "hutong").rglob("*.so"), *(HERE / "src").glob("*__mypyc*.so")]:
        built.unlink()


def extensions() -> list[object]:
    if os.environ.get("HUTONG_PURE_PYTHON") == "1":
        remove_old_builds()
        return []
    if os.environ.get("HUTONG_NATIVE_KEEP") == "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify([f"src/{p}" for p in HOT_PATH], opt_level="3", debug_level="1"))


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithManifest})
