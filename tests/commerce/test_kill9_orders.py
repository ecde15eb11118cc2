"""kill -9 of the server and the worker while buyers order and pay: after a restart every
acknowledged order is there exactly once, every payment the provider took is applied exactly
once (its notifications, retried by the provider across the outage, included), stock adds
up for every SKU, and the ledger balances. (Clicks under kill -9: tests/lake/test_kill9.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hutong.commerce.models import Order, OrderLine, Sku
from hutong.payments.models import Payment
from hutong.settlement.models import JournalLine
from hutong.store import Store
from tests.commerce.shop import ADDRESS
from tests.conftest import Backend, free_port
from tests.serving import HUTONG, cli, cli_json, env_for

pytestmark = pytest.mark.slow
STOCK = 1_000
SKUS = 10


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*HUTONG, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


class Buyers:
    """Threads that order and pay until told to stop, keeping what the server acknowledged."""

    def __init__(self, url: str, key: str, skus: list[str]) -> None:
        self.url, self.key, self.skus = url, key, skus
        self.acknowledged: list[str] = []  # orders answered 201
        self.paid: list[str] = []  # orders whose payment the provider took
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self, worker: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    self._one(client, worker, n)
                except httpx.HTTPError:
                    return  # the server died mid-request: this step was never acknowledged

    def _one(self, client: httpx.Client, worker: int, n: int) -> None:
        body = {
            "lines": [{"sku_id": self.skus[(worker + n) % len(self.skus)], "quantity": 1}],
            "buyer_ref": f"crash-{worker}-{n}",
            "ship_to": ADDRESS,
        }
        created = client.post(
            "/v1/orders", json=body, headers={"Idempotency-Key": f"k-{worker}-{n}"}
        )
        if created.status_code != 201:
            return
        order = created.json()["id"]
        with self.lock:
            self.acknowledged.append(order)
        if n % 3 == 0:
            return  # some buyers never pay
        started = client.post(f"/v1/orders/{order}/payments", json={"provider": "sandbox"})
        if started.status_code != 201:
            return
        if httpx.post(started.json()["pay_url"], timeout=10).status_code == 200:
            with self.lock:
                self.paid.append(order)  # the provider has the money; hutong must learn it


def test_kill9_of_server_and_worker_loses_and_doubles_no_order_or_payment(
    backend: Backend, tmp_path: Path
) -> None:
    port, sandbox_port = free_port(), free_port()
    env = env_for(
        tmp_path / "data",
        backend.url,
        HUTONG_EMBEDDED_WORKER="0",
        HUTONG_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HUTONG_LOG_LEVEL="WARNING",
    )
    cli(env, "seed")
    key = str(cli_json(env, "tenants", "key", "--platform", "taobao")["key"])
    url = f"http://127.0.0.1:{port}"
    with processes() as procs:
        sandbox_dir = tmp_path / "sandbox"
        emulator = _start(
            env,
            "sandbox",
            "sandbox",
            "--port",
            str(sandbox_port),
            "--dir",
            str(sandbox_dir),
            "--time-scale",
            "0.1",  # the provider re-sends after 0.5 s, 3 s, 6 s, 30 s
        )
        procs.append(emulator)
        gateway = f"http://127.0.0.1:{sandbox_port}"
        _wait(f"{gateway}/_emulator/state", emulator)
        server = _start(env, "serve", "--port", str(port), "--no-worker")
        worker = _start(env, "worker")
        procs += [server, worker]
        _wait(f"{url}/healthz", server)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            account = json.loads((sandbox_dir / "account.json").read_text())
            assert client.post("/v1/provider-accounts", json=account).status_code == 201
            items = [
                {"code": f"K-{i}", "title": "crash", "price_fen": 9_900, "stock": STOCK}
                for i in range(SKUS)
            ]
            made = client.post("/v1/products", json={"title": "crash", "skus": items})
            skus = [s["id"] for s in made.json()["skus"]]

        buyers = Buyers(url, key, skus)
        threads = [threading.Thread(target=buyers.run, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        time.sleep(4.0)
        for proc in (server, worker):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        buyers.stop.set()
        for t in threads:
            t.join()
        assert len(buyers.acknowledged) > 20 and buyers.paid, (buyers.acknowledged, buyers.paid)

        # back up on the same address: the provider's retries find it again
        server = _start(env, "serve", "--port", str(port), "--no-worker")
        worker = _start(env, "worker")
        procs += [server, worker]
        _wait(f"{url}/healthz", server)
        deadline = time.monotonic() + 90
        while True:
            deliveries = httpx.get(f"{gateway}/_emulator/state").json()["deliveries"]
            if all(d["done"] for d in deliveries):
                break
            assert time.monotonic() < deadline, "the provider's notifications were never taken"
            time.sleep(0.5)
        cli(env, "settle")

    store = Store.from_url(backend.url)
    try:
        with store.reading() as session:
            states = dict(session.execute(select(Order.id, Order.state)).all())
            paid_fen = dict(session.execute(select(Order.id, Order.paid_fen)).all())
            applied = Counter(
                session.scalars(select(Payment.order_id).where(Payment.applied.is_(True)))
            )
            stock = {
                s.id: (s.stock_available, s.stock_reserved, s.stock_sold)
                for s in session.scalars(select(Sku))
            }
            lines = Counter(
                dict(
                    session.execute(
                        select(OrderLine.sku_id, func.count()).group_by(OrderLine.sku_id)
                    ).all()
                )
            )
            ledger = session.scalar(select(func.coalesce(func.sum(JournalLine.amount_fen), 0)))
    finally:
        store.engine.dispose()

    missing = [o for o in buyers.acknowledged if o not in states]
    assert missing == []  # every acknowledged order survived, once (ids are unique)
    for order in buyers.paid:  # the provider took the money: applied once, not twice
        assert states[order] == "paid", (order, states[order])
        assert applied[order] == 1 and paid_fen[order] == 9_900
    paid_orders = {o for o, s in states.items() if s == "paid"}
    assert all(applied[o] == 1 for o in paid_orders)
    for sku, (available, reserved, sold) in stock.items():
        assert available + reserved + sold == STOCK, sku
        assert reserved + sold == lines[sku], sku  # every unit out is an order's line
    assert sum(s[2] for s in stock.values()) == len(paid_orders)
    assert ledger == 0
