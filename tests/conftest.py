"""Shared fixtures: a store per backend (SQLite file, PostgreSQL schema) and a live server.

PostgreSQL tests read ``HUTONG_TEST_POSTGRES_URL``; without it they skip, except under
``CI=true`` where a missing server is a failure (nothing may skip in CI for want of it).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from hutong import native
from hutong.app import create_app
from hutong.commerce.interop import seed_interop
from hutong.config import Settings
from hutong.migrate import upgrade
from hutong.runtime import Runtime, build_runtime
from hutong.server import server_options
from hutong.store import Store
from hutong.tenants.models import Role, TenantKind
from hutong.tenants.service import create_tenant, issue_key
from hutong.traffic.service import seed_platforms, seed_policies

PG_ENV = "HUTONG_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend: parametrised over sqlite and postgres")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Test the code that runs: never a stale compiled hot path, and in CI the compiled one."""
    found = native.status()
    if found.stale:
        pytest.exit(found.describe(), returncode=3)
    if IN_CI and found.interpreted:
        pytest.exit(f"CI=true but the hot path is not compiled: {found.describe()}", returncode=3)


def postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if IN_CI:
            pytest.fail(f"CI=true but {PG_ENV} is not set: PostgreSQL tests may not skip in CI")
        return None
    return url


@dataclass
class Backend:
    name: str
    url: str


def pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"hutong_t_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_schema(base: str, schema: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A freshly migrated database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hutong.sqlite3'}"
        upgrade(url)
        yield Backend("sqlite", url)
        return
    base = postgres_url()
    if base is None:
        if IN_CI:
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL tests must run")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (e.g. postgresql://127.0.0.1/test)")
    try:
        schema, url = pg_schema_url(base)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {base} is not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {base} is not reachable: {exc}")
    upgrade(url)
    try:
        yield Backend("postgres", url)
    finally:
        drop_schema(base, schema)


_SPARK: list[object] = []


def spark_engine() -> object:
    """The one local Spark session of the test run (a JVM takes seconds to start). Without
    pyspark or Java the Spark tests skip, except under CI=true where that is a failure."""
    if not _SPARK:
        try:
            from hutong.lake.engines.spark import SparkEngine

            _SPARK.append(SparkEngine())
        except Exception as exc:  # ImportError, or Java missing (a Py4J/RuntimeError)
            if IN_CI:
                pytest.fail(f"CI=true but Spark cannot start: {exc}")
            pytest.skip(f"Spark is not available: {exc}")
    return _SPARK[0]


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Iterator[object]:
    """Each lake engine; DuckDB fresh per test, Spark shared (views are replaced per test)."""
    if request.param == "spark":
        yield spark_engine()
        return
    from hutong.lake.engines.duck import DuckEngine

    duck = DuckEngine()
    yield duck
    duck.close()


def make_settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    settings = Settings(
        data_dir=data,
        database_url=url,
        public_url="http://hutong.test",
        token_keys=(("k2", b"token-key-two"), ("k1", b"token-key-one")),
        pii_key=b"pii-test-key",
        click_fsync_ms=20,
        click_segment_seconds=3600,
        cache_poll_ms=50,
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


@dataclass
class World:
    """A seeded store with an operator key and the runtime built on it."""

    settings: Settings
    store: Store
    runtime: Runtime
    operator_key: str
    operator_id: str


def seed_world(settings: Settings) -> World:
    store = Store.from_url(settings.database_url)
    with store.transaction() as session:
        seed_platforms(session)
        operator = create_tenant(session, TenantKind.OPERATOR, "ops")
        _, key = issue_key(session, operator.id, Role.ADMIN)
        seed_policies(session, operator.id)
        seed_interop(session)
    runtime = build_runtime(settings, store)
    return World(settings, store, runtime, key, operator.id)


@pytest.fixture
def world(backend: Backend, tmp_path: Path) -> Iterator[World]:
    w = seed_world(make_settings(tmp_path, backend.url))
    try:
        yield w
    finally:
        w.runtime.close()
        w.store.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    world: World

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, follow_redirects=False)


@contextmanager
def running(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    options: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "on"}
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **{**options, **config}))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(world: World) -> Iterator[LiveServer]:
    """The real server (uvicorn + the /j/ listener) on a free loopback port, in a thread."""
    app = create_app(world.runtime, manage_runtime=False)
    world.runtime.cache.start()
    options = {**server_options(world.settings, world.runtime.jumper), "log_level": "warning"}
    with running(app, **options) as url:
        world.runtime.payments.public_url = url  # providers' notifications must reach us
        world.runtime.logistics.public_url = url
        yield LiveServer(url, world)


@contextmanager
def own_world(settings: Settings) -> Iterator[World]:
    """A seeded world on ``settings`` (for tests that need settings of their own)."""
    world = seed_world(settings)
    try:
        yield world
    finally:
        world.runtime.close()
        world.store.engine.dispose()


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with serving(world) as live:
        yield live
