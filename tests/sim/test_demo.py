"""`hutong demo` on a fresh directory: the scenario played through the real API by the CLI,
with the emulated providers and carriers as their own processes; what it leaves in the store
is what the API was told."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port


@pytest.mark.slow
def test_the_demo_plays_double11_through_the_api(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    (data / "stale").write_text("a previous run")  # the demo starts from a fresh directory
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hutong.cli",
            "demo",
            "--shoppers",
            "16",
            "--no-serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (data / "stale").exists()
    assert "16 shoppers" in done.stdout and "2 commission holds" in done.stdout
    db = sqlite3.connect(data / "hutong.sqlite3")
    orders = db.execute("SELECT count(*) FROM orders").fetchone()[0]
    paid = db.execute("SELECT count(*) FROM orders WHERE paid_at IS NOT NULL").fetchone()[0]
    assert orders > 0 and paid == orders
    notices = db.execute("SELECT count(*) FROM payment_notices").fetchone()[0]
    assert notices >= orders  # every payment confirmed by the provider's signed notification
    providers = {r[0] for r in db.execute("SELECT DISTINCT provider FROM payments")}
    assert providers <= {"alipay", "wechatpay", "unionpay"} and providers
    assert db.execute("SELECT count(*) FROM conversions").fetchone()[0] == orders
    assert db.execute("SELECT count(*) FROM shipments").fetchone()[0] == orders
    assert db.execute("SELECT count(*) FROM attribution_runs").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM live_sessions").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM payee_holds").fetchone()[0] == 2
