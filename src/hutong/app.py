"""The FastAPI application: assembles the capability routers around one Runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from hutong import __version__
from hutong.api import problems
from hutong.api.auth import RuntimeDep
from hutong.api.bodylimit import BodyLimitMiddleware
from hutong.api.metrics import metrics_text
from hutong.api.ratelimit import RateLimitMiddleware
from hutong.api.requestid import RequestIdMiddleware
from hutong.attribution.api import router as attribution_router
from hutong.commerce.api import router as commerce_router
from hutong.console.routes import router as console_router
from hutong.live.api import router as live_router
from hutong.live.trust.api import router as trust_router
from hutong.logistics.api import public as tracking_router
from hutong.logistics.api import router as logistics_router
from hutong.payments.api import public as notify_router
from hutong.payments.api import router as payments_router
from hutong.runtime import Runtime
from hutong.settlement.alliances.api import router as alliances_router
from hutong.settlement.api import router as settlement_router
from hutong.tenants.api import router as tenants_router
from hutong.traffic.adplatforms.api import router as adplatforms_router
from hutong.traffic.api import public as jump_router
from hutong.traffic.api import router as traffic_router


def create_app(runtime: Runtime, *, manage_runtime: bool = True) -> FastAPI:
    """The app; with ``manage_runtime`` its lifespan starts the cache poller and closes logs."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.cache.start()
        try:
            yield
        finally:
            if manage_runtime:
                runtime.close()

    app = FastAPI(
        title="hutong",
        version=__version__,
        description="Open interconnection hub for cross-platform commerce (互通).",
        lifespan=lifespan,
        # No trailing-slash redirects: they echo the Host header into a Location.
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    problems.install(app)
    limits = runtime.settings
    # outermost last: request ids (every refusal logged and counted), then the rate limits
    # (a dictionary lookup), then the body limit (which may read a chunked body)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        per_key=limits.api_rate_per_second,
        burst=limits.api_burst,
        anonymous=limits.anonymous_rate_per_second,
    )
    app.add_middleware(RequestIdMiddleware)
    app.include_router(jump_router)
    app.include_router(tenants_router)
    app.include_router(traffic_router)
    app.include_router(commerce_router)
    app.include_router(payments_router)
    app.include_router(notify_router)
    app.include_router(logistics_router)
    app.include_router(tracking_router)
    app.include_router(attribution_router)
    app.include_router(settlement_router)
    app.include_router(alliances_router)
    app.include_router(live_router)
    app.include_router(trust_router)
    app.include_router(adplatforms_router)
    app.include_router(console_router)

    @app.get("/healthz", tags=["ops"])
    def healthz(rt: RuntimeDep) -> dict[str, object]:
        """Liveness and readiness: the store answers and the link cache is loaded."""
        with rt.store.reading() as session:
            session.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": __version__,
            "links": len(rt.cache.links),
            "change_seq": rt.cache.last_seq,
        }

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics(rt: RuntimeDep) -> PlainTextResponse:
        """Prometheus' text format: this process's requests and latencies (the /j/ fast path
        keeps its own click log instead), the outbox's backlog and lag, and the event logs
        waiting for compaction (docs/operations.md: what each means and when to alert)."""
        text = metrics_text(rt.store, rt.settings.clicklog_dir)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app
