"""Running the server: uvicorn with the /j/ listener in front of the ASGI app."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any, cast

import uvicorn

from hutong import native
from hutong.api.requestid import configure_logging
from hutong.app import create_app
from hutong.config import Settings, load_settings
from hutong.runtime import build_runtime
from hutong.traffic.jump import Jumper
from hutong.traffic.listener import JumpProtocol
from hutong.worker.runner import Worker

log = logging.getLogger("hutong.server")
LOOPBACK = frozenset({"127.0.0.1", "::1"})  # proxies whose X-Forwarded-For the jump trusts


def server_options(settings: Settings, jumper: Jumper) -> dict[str, Any]:
    """uvicorn's options for hutong's app (the test servers take them too).

    The keep-alive timeout is longer than clients' own (httpx's is 5 s, as was uvicorn's):
    with equal timeouts the server could close a connection at the instant a client reuses
    it, and that request would be lost (docs/reliability.md).
    """
    return {
        "http": cast(type[asyncio.Protocol], JumpProtocol.bound(jumper, LOOPBACK)),
        "loop": "uvloop",
        "access_log": False,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "timeout_keep_alive": settings.keep_alive_seconds,
    }


def run_server(host: str, port: int, *, with_worker: bool = True) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    runtime = build_runtime(settings)
    worker = Worker(settings, runtime.store) if with_worker else None
    if worker is not None:
        worker.start_thread()
    # Everything loaded so far (a million cached links) lives as long as the process: move it
    # out of the collector's generations so full collections do not walk it (cf. gc.freeze).
    gc.collect()
    gc.freeze()
    app = create_app(runtime)
    config = uvicorn.Config(app, host=host, port=port, **server_options(settings, runtime.jumper))
    log.info(
        "serving on http://%s:%d (%d links cached; %s)",
        host,
        port,
        len(runtime.cache.links),
        native.status().describe(),
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if worker is not None:
            worker.stop()
