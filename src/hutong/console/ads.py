"""The ad-tracking page: each content platform's ad system (its monitoring URL template, where
callbacks go, whether its format is confirmed), the taps its monitoring calls reported and the
conversion callbacks sent back with each platform's answer (docs/adplatforms.md)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from hutong.api.auth import RuntimeDep
from hutong.console.web import principal, render, router, to_signin
from hutong.traffic.adplatforms import service
from hutong.traffic.adplatforms.registry import PLATFORMS


@router.get("/ads", response_class=HTMLResponse)
def ads_page(request: Request, runtime: RuntimeDep) -> Response:
    with runtime.store.reading() as session:
        who = principal(request, runtime, session)
        if who is None:
            return to_signin()
        base = runtime.settings.public_url
        platforms = [
            (p, p.monitor_template(f"{base}/m/{p.name}/{{code}}"), service.gateway_of(session, p))
            for p in PLATFORMS.values()
        ]
        clicks = service.visible_clicks(session, who, 50)
        conversions = service.visible_conversions(session, who, 50)
    return render(
        request, "ads.html", who, platforms=platforms, clicks=clicks, conversions=conversions
    )
