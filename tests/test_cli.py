"""The ``hutong`` command end to end, against a real server where it matters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.serving import cli, cli_json, env_for, serving


def test_setup_commands_are_idempotent(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    cli(env, "db", "upgrade")
    cli(env, "db", "upgrade")
    first = cli(env, "seed").stdout
    assert "seeded 9 platforms, 9 link policies and 22 interop rules" in first
    assert "htk_" in first
    second = cli(env, "seed").stdout
    assert "seeded 0 platforms, 0 link policies and 0 interop rules" in second
    assert "htk_" not in second
    assert (tmp_path / "data" / "secrets" / "pii_key").stat().st_mode & 0o077 == 0
    listed = cli(env, "policy", "list", "--source", "kuaishou").stdout
    assert "kuaishou" in listed and "youzan" in listed
    decision = json.loads(
        cli(
            env,
            "policy",
            "check",
            "douyin",
            "taobao",
            "live_room",
            "--at",
            "2024-11-11T20:00+08:00",
        ).stdout
    )
    assert decision["allowed"] is False and "第三方來源" in decision["source_sentence"]
    bad = cli(env, "tenants", "create", "merchant", "orphan", check=False)
    assert bad.returncode == 2 and "validation_failed" in bad.stderr


def test_cli_cuts_a_link_on_a_running_server(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data", HUTONG_EMBEDDED_WORKER="0")
    cli(env, "db", "upgrade")
    cli(env, "seed")
    content = cli_json(env, "tenants", "key", "--platform", "bilibili")
    shelf = cli_json(env, "tenants", "key", "--platform", "taobao")
    with serving(env) as (url, _), httpx.Client(base_url=url, timeout=10) as client:
        placement = client.post(
            "/v1/placements",
            headers={"X-API-Key": str(content["key"])},
            json={"surface": "feed", "name": "ad card", "pricing_model": "cpc", "price_fen": 80},
        ).json()
        campaign = client.post(
            "/v1/campaigns",
            headers={"X-API-Key": str(shelf["key"])},
            json={
                "name": "live room",
                "target_platform_id": "taobao",
                "placement_ids": [placement["id"]],
                "billing_model": "cpc",
                "cpc_fen": 80,
                "budget_fen": 10**7,
                "starts_at": "2023-01-01T00:00:00+08:00",
                "ends_at": "2099-01-01T00:00:00+08:00",
            },
        ).json()
        link = client.post(
            "/v1/links",
            headers={"X-API-Key": str(shelf["key"])},
            json={
                "campaign_id": campaign["id"],
                "placement_id": placement["id"],
                "target_kind": "live_room",
                "web_url": "https://tbzb.taobao.com/live?liveId=123456",
            },
        ).json()
        deadline = time.monotonic() + 5
        while client.get(f"/j/{link['code']}").status_code != 302:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cli(env, "links", "cut", link["id"])
        cut_at = time.monotonic()
        while client.get(f"/j/{link['code']}").status_code != 404:
            assert time.monotonic() - cut_at < 1.0, "a cut link must stop within a second"
            time.sleep(0.02)
    cli(env, "links", "qr", link["code"], str(tmp_path / "poster.png"))
    cli(env, "links", "qr", link["code"], str(tmp_path / "poster.svg"))
    assert (tmp_path / "poster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "poster.svg").read_bytes()
    compacted = json.loads(cli(env, "lake", "compact").stdout)
    assert compacted["clicks"] >= 1
