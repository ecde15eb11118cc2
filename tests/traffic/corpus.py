"""The third-party URL attack corpora in ../shared/testdata/url_attacks (see its README)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "url_attacks"
ALLOWED = "pages.tmall.com"


def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the URL attack corpus is missing at {CORPUS}")
        pytest.skip(f"the URL attack corpus is not beside the project ({CORPUS})")
    return CORPUS


def open_redirect_payloads() -> list[str]:
    """Every PayloadsAllTheThings payload, its placeholder host replaced by a Tmall host."""
    out: list[str] = []
    for name in (
        "PATT_Open-Redirect-payloads.txt",
        "PATT_openredirects.txt",
        "PATT_open_redirect_wordlist.txt",
    ):
        for line in (corpus_dir() / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                out.append(
                    line.replace("www.whitelisteddomain.tld", ALLOWED).replace(
                        "whitelisteddomain.tld", "tmall.com"
                    )
                )
    return out


def wpt_cases() -> list[dict[str, Any]]:
    data = json.loads((corpus_dir() / "wpt_urltestdata.json").read_text(encoding="utf-8"))
    return [case for case in data if isinstance(case, dict)]
