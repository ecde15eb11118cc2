"""The console's static files: ours, and Plotly from its installed package."""

from __future__ import annotations

import re

from fastapi.responses import (
    FileResponse,
    Response,
)

from hutong.console.web import PLOTLY_JS, STATIC, router


# -- static files --------------------------------------------------------------------------
@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=_cached())


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = STATIC / name
    if not re.fullmatch(r"[\w.\-]+", name) or not path.is_file():
        return Response(status_code=404)
    kind = {".js": "text/javascript", ".css": "text/css"}.get(
        path.suffix, "application/octet-stream"
    )
    return FileResponse(path, media_type=kind, headers=_cached())


def _cached() -> dict[str, str]:
    return {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
