"""Running the server: uvicorn with the /j/ listener in front of the ASGI app."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import cast

import uvicorn

from hutong import native
from hutong.api.requestid import configure_logging
from hutong.app import create_app
from hutong.config import load_settings
from hutong.runtime import build_runtime
from hutong.traffic.listener import JumpProtocol
from hutong.worker.runner import Worker

log = logging.getLogger("hutong.server")


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
    protocol = JumpProtocol.bound(runtime.jumper, frozenset({"127.0.0.1", "::1"}))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=cast(type[asyncio.Protocol], protocol),  # uvicorn only calls it
        loop="uvloop",
        access_log=False,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
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
