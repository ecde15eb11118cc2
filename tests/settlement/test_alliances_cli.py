"""The real commands: ``hutong sandbox alliances`` beside ``hutong serve``; Douyin connects
its Taobao Alliance account with the account.json the emulator wrote, and ``hutong alliances
poll`` imports the lines the emulator holds, once, however often it runs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import httpx

from hutong.settlement.alliances.protocol import spelled
from tests.conftest import free_port
from tests.serving import HUTONG, cli, cli_json, env_for, serving


def _down(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
    except httpx.HTTPError:
        return True
    return False


def test_sandbox_and_poll_commands(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    cli(env, "db", "upgrade")
    cli(env, "seed")
    douyin = cli_json(env, "tenants", "key", "--platform", "douyin")
    taobao = cli_json(env, "tenants", "key", "--platform", "taobao")
    port, keys_dir = free_port(), tmp_path / "alliances"
    emulator = subprocess.Popen(
        [*HUTONG, "sandbox", "alliances", "--port", str(port), "--dir", str(keys_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (keys_dir / "account.json").exists() or _down(port):
            assert emulator.poll() is None and time.monotonic() < deadline, emulator.stderr
            time.sleep(0.1)
        account = json.loads((keys_dir / "account.json").read_text())["taobao"]
        now = dt.datetime.now(dt.UTC)
        lines = [
            {
                "trade_id": f"90{n:09d}",
                "trade_parent_id": f"80{n:09d}",
                "adzone_id": 1,
                "tk_status": 12,
                "alipay_total_price": "88.00",
                "pub_share_pre_fee": "4.40",
                "tk_create_time": spelled(now - dt.timedelta(minutes=30 + n)),
                "tk_paid_time": spelled(now - dt.timedelta(minutes=30 + n)),
                "modified_time": spelled(now - dt.timedelta(minutes=30 + n)),
            }
            for n in range(5)
        ]
        answer = httpx.post(f"http://127.0.0.1:{port}/emulator/taobao/orders", json=lines)
        assert answer.json() == {"lines": 5}
        with (
            serving(env, "--no-worker") as (url, _),
            httpx.Client(
                base_url=url, timeout=10, headers={"X-API-Key": str(douyin["key"])}
            ) as client,
        ):
            body = {
                "platform": "taobao",
                "payer_id": taobao["tenant_id"],
                "settings": account["settings"],
                "gateway_url": account["gateway_url"],
                "start_at": (now - dt.timedelta(hours=2)).isoformat(),
            }
            connected = client.post("/v1/alliances/accounts", json=body)
            assert connected.status_code == 201, connected.text
            for expected_changes in (5, 0):  # a second run imports nothing twice
                polled = json.loads(cli(env, "alliances", "poll").stdout)
                assert (polled["errors"], polled["changed"]) == ([], expected_changes)
            imported = client.get("/v1/alliances/orders").json()
            assert sorted(o["order_ref"] for o in imported) == [line["trade_id"] for line in lines]
            assert {o["commission_fen"] for o in imported} == {440}
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        assert emulator.stderr is not None
        emulator.stderr.close()
