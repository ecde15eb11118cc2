"""The real commands: ``hutong sandbox wechatpay`` beside ``hutong serve``; a seller connects
with the account.json the emulator wrote, and a Taobao order is paid with WeChat Pay."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.commerce.shop import ADDRESS
from tests.conftest import free_port
from tests.serving import HUTONG, cli, cli_json, env_for, serving


def test_sandbox_command_plays_wechat_pay_for_a_running_server(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    cli(env, "db", "upgrade")
    cli(env, "seed")
    shelf = cli_json(env, "tenants", "key", "--platform", "taobao")
    port = free_port()
    keys_dir = tmp_path / "wx"
    emulator = subprocess.Popen(
        [
            *HUTONG,
            "sandbox",
            "wechatpay",
            "--port",
            str(port),
            "--dir",
            str(keys_dir),
            "--time-scale",
            "0.01",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (keys_dir / "account.json").exists() or _down(port):
            assert emulator.poll() is None and time.monotonic() < deadline, emulator.stderr
            time.sleep(0.1)
        account = json.loads((keys_dir / "account.json").read_text())
        with (
            serving(env) as (url, _),
            httpx.Client(
                base_url=url, timeout=10, headers={"X-API-Key": str(shelf["key"])}
            ) as client,
        ):
            assert client.post("/v1/provider-accounts", json=account).status_code == 201
            product = client.post(
                "/v1/products",
                json={
                    "title": "box",
                    "skus": [{"code": "W1", "title": "box", "price_fen": 1_000, "stock": 1}],
                },
            ).json()
            order = client.post(
                "/v1/orders",
                json={
                    "lines": [{"sku_id": product["skus"][0]["id"], "quantity": 1}],
                    "buyer_ref": "b",
                    "ship_to": ADDRESS,
                },
            ).json()
            payment = client.post(
                f"/v1/orders/{order['id']}/payments", json={"provider": "wechatpay"}
            ).json()
            assert payment["state"] == "pending", payment
            httpx.post(payment["pay_url"])
            deadline = time.monotonic() + 15
            while client.get(f"/v1/orders/{order['id']}").json()["state"] != "paid":
                assert time.monotonic() < deadline, "the notification never made the order paid"
                time.sleep(0.1)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        if emulator.stderr:
            emulator.stderr.close()


def _down(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=1)
        return False
    except httpx.HTTPError:
        return True
