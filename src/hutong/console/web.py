"""What every console page shares: the router, the templates and their filters, signing
in by cookie, and rendering a page in the user's language.

Signing in takes a tenant's API key; the key is kept in an HttpOnly, SameSite=Strict cookie,
sealed (AES-GCM under the deployment's key), and checked again on every page, so a revoked key
signs the browser out. Charts are drawn by Plotly served from the installed package and htmx
from this package's static files: nothing comes from a CDN.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import plotly  # type: ignore[import-untyped]
from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from hutong.console.i18n import COOKIE as LANG_COOKIE
from hutong.console.i18n import pick_lang, translator
from hutong.errors import HutongError
from hutong.runtime import Runtime
from hutong.sealing import Sealer
from hutong.tenants.principal import Principal
from hutong.tenants.service import authenticate

router = APIRouter(prefix="/console", include_in_schema=False)


HERE = Path(__file__).parent


STATIC = HERE / "static"


PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


KEY_COOKIE = "hutong_console"


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _local(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Asia/Shanghai (DESIGN.md)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI).strftime(fmt)


_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
_env.filters["yuan"] = lambda fen: f"¥{(fen or 0) / 100:,.2f}"
_env.filters["pct"] = lambda x: "—" if x is None else f"{x * 100:.1f}%"
_env.filters["num"] = lambda x: f"{x or 0:,}"
_env.filters["local"] = _local


# -- signing in ----------------------------------------------------------------------------
def principal(request: Request, runtime: Runtime, session: Session) -> Principal | None:
    sealed = request.cookies.get(KEY_COOKIE)
    if not sealed:
        return None
    try:
        key = Sealer(runtime.settings.pii_key).unseal(sealed)["key"]
        return authenticate(session, key)
    except (HutongError, ValueError, KeyError):
        return None


def render(request: Request, template: str, who: Principal | None, **context: Any) -> HTMLResponse:
    lang = pick_lang(request)
    body = _env.get_template(template).render(
        t=translator(lang),
        lang=lang,
        other_lang="en" if lang == "zh" else "zh",
        who=who,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(body, headers=PAGE_HEADERS, status_code=context.get("status", 200))
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def to_signin() -> RedirectResponse:
    return RedirectResponse("/console/signin", status_code=303)


class Refused(Exception):
    """A form's errors: raised inside the transaction so that nothing of it is kept."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors
