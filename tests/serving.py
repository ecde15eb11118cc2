"""Running the real ``hutong`` command as a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

HUTONG = [sys.executable, "-m", "hutong.cli"]


def env_for(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HUTONG_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "300"  # rich tables are not truncated in captured output
    if database_url:
        env["HUTONG_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*HUTONG, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"hutong {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done


def cli_json(env: dict[str, str], *args: str) -> dict[str, object]:
    out = cli(env, *args).stdout
    return dict(json.loads(out))


@contextmanager
def serving(env: dict[str, str], *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**env, "HUTONG_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [*HUTONG, "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"hutong serve did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()
