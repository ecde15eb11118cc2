"""The few pages a jump can answer instead of a redirect: passcode, QR code, forbidden, 404."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

if TYPE_CHECKING:
    from hutong.traffic.cached import CachedLink, CachedPlatform
    from hutong.traffic.jump import JumpAnswer

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
HTML_HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", CSP),
    ("x-robots-tag", "noindex"),
]


@functools.lru_cache(maxsize=4096)
def qr_svg(data: str) -> str:
    """An inline SVG QR code (segno, error correction M)."""
    return str(segno.make(data, error="m").svg_inline(scale=5, border=2))


def _page(status: int, template: str, **context: object) -> JumpAnswer:
    from hutong.traffic.jump import JumpAnswer

    body = _env.get_template(template).render(**context).encode()
    return JumpAnswer(status, list(HTML_HEADERS), body)


def passcode_page(link: CachedLink, target: CachedPlatform, short_url: str) -> JumpAnswer:
    from hutong.traffic.codes import render_passcode

    app_name = target.name_zh or target.name
    text = render_passcode(link.passcode, link.title, app_name)
    return _page(
        200,
        "passcode.html",
        text=text,
        passcode=link.passcode,
        target=target,
        qr=qr_svg(short_url),
        title=link.title,
    )


def qr_page(link: CachedLink, target: CachedPlatform, short_url: str) -> JumpAnswer:
    return _page(200, "qr.html", target=target, qr=qr_svg(short_url), title=link.title)


def forbidden(link: CachedLink, target: CachedPlatform) -> JumpAnswer:
    return _page(403, "forbidden.html", target=target, title=link.title)


@functools.lru_cache(maxsize=1)
def _not_found_body() -> bytes:
    return _env.get_template("not_found.html").render().encode()


def not_found() -> JumpAnswer:
    from hutong.traffic.jump import JumpAnswer

    return JumpAnswer(404, list(HTML_HEADERS), _not_found_body())


@functools.lru_cache(maxsize=1)
def _too_many_body() -> bytes:
    return _env.get_template("too_many.html").render().encode()


def too_many(now: float) -> JumpAnswer:
    """429 for an address over its flood limit, until its clock minute ends."""
    from hutong.traffic.jump import JumpAnswer

    retry = str(60 - int(now) % 60)
    return JumpAnswer(429, [*HTML_HEADERS, ("retry-after", retry)], _too_many_body())
