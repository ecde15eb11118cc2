"""Signing in and out of the console."""

from __future__ import annotations

import urllib.parse

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from hutong.api.auth import RuntimeDep
from hutong.console.web import KEY_COOKIE, render, router, to_signin
from hutong.errors import HutongError
from hutong.sealing import Sealer
from hutong.tenants.service import authenticate


@router.get("", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/console/overview", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request) -> HTMLResponse:
    return render(request, "signin.html", None, error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, runtime: RuntimeDep) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    error = "key_required" if not key else None
    if error is None:
        with runtime.store.reading() as session:
            try:
                authenticate(session, key)
            except HutongError:
                error = "key_unknown"
    if error is not None:
        # the form again with the error beside the field (a page, not an API answer: 200)
        return render(request, "signin.html", None, error=error)
    response = RedirectResponse("/console/overview", status_code=303)
    sealed = Sealer(runtime.settings.pii_key).seal({"key": key})
    response.set_cookie(KEY_COOKIE, sealed, httponly=True, samesite="strict", max_age=86400)
    return response


@router.post("/signout")
def signout() -> RedirectResponse:
    response = to_signin()
    response.delete_cookie(KEY_COOKIE)
    return response
