"""kill -9 under load: every click the server answered is in the lake exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx
import pytest

from hutong.lake.compact import lake_glob
from hutong.traffic.tokens import TokenSigner
from tests.serving import cli, cli_json, env_for, serving

pytestmark = pytest.mark.slow
SIGNER = TokenSigner((("k1", b"kill9-token-key"),))


def _make_link(url: str, env: dict[str, str]) -> str:
    douyin = cli_json(env, "tenants", "key", "--platform", "xiaohongshu")
    tmall = cli_json(env, "tenants", "key", "--platform", "jd")
    with httpx.Client(base_url=url, timeout=10) as client:
        placement = client.post(
            "/v1/placements",
            headers={"X-API-Key": str(douyin["key"])},
            json={"surface": "feed", "name": "feed", "pricing_model": "cpc", "price_fen": 10},
        ).json()
        campaign = client.post(
            "/v1/campaigns",
            headers={"X-API-Key": str(tmall["key"])},
            json={
                "name": "load",
                "target_platform_id": "jd",
                "placement_ids": [placement["id"]],
                "billing_model": "cpc",
                "cpc_fen": 10,
                "budget_fen": 10**9,
                "starts_at": "2024-01-01T00:00:00+08:00",
                "ends_at": "2099-01-01T00:00:00+08:00",
            },
        ).json()
        link = client.post(
            "/v1/links",
            headers={"X-API-Key": str(tmall["key"])},
            json={
                "campaign_id": campaign["id"],
                "placement_id": placement["id"],
                "target_kind": "product",
                "web_url": "https://item.jd.com/100012043978.html",
            },
        ).json()
    return str(link["code"])


def test_kill9_under_load_loses_no_answered_click(tmp_path: Path) -> None:
    env = env_for(
        tmp_path / "data",
        HUTONG_TOKEN_KEYS="k1:kill9-token-key",
        HUTONG_CLICK_SEGMENT_SECONDS="1",
        HUTONG_EMBEDDED_WORKER="0",
    )
    cli(env, "db", "upgrade")
    cli(env, "seed")
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with serving(env) as (url, proc):
        code = _make_link(url, env)
        time.sleep(1.0)  # the server's cache picks the link up from the change feed

        def load(worker: int) -> None:
            n = 0
            with httpx.Client(base_url=url, timeout=5) as client:
                while not stop.is_set():
                    n += 1
                    headers = {
                        "User-Agent": f"Mozilla/5.0 (iPhone) load/{worker}/{n}",
                        "X-Forwarded-For": f"10.{worker}.{n // 250 % 250}.{n % 250}",
                    }
                    try:
                        answer = client.get(f"/j/{code}", headers=headers)
                    except httpx.HTTPError:
                        return  # the server died mid-request: this click was never answered
                    if answer.status_code == 302:
                        token = parse_qs(urlsplit(answer.headers["location"]).query)["ht_ct"][0]
                        with lock:
                            answered.append(SIGNER.verify(token).click_id)

        threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        time.sleep(3.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
    assert len(answered) > 500
    cli(env, "lake", "compact")
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT click_id, count(*) FROM read_parquet(?, hive_partitioning=true) GROUP BY 1",
            [lake_glob(tmp_path / "data" / "lake", "clicks")],
        ).fetchall()
    counts = dict(rows)
    missing = [c for c in answered if c not in counts]
    assert missing == []
    assert all(counts[c] == 1 for c in answered)
