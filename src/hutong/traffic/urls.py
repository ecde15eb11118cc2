"""Judging redirect targets the way a browser does (WHATWG URL parsing via ada-url).

``urllib.parse`` and browsers disagree on many inputs (``///evil/%2f..``, ``/\\/evil``,
``https://good@evil``, full-width dots); a target is judged only by the host a WHATWG parser
gives, and the Location we answer is built so that no query parameter can change that host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ada_url import URL

from hutong.traffic.errors import InvalidTarget

# Request parameters that name a destination on common shelf pages are never passed through:
# passthrough adds tracking, it never steers the user somewhere else.
DESTINATION_PARAMS = frozenset(
    {
        "url",
        "u",
        "r",
        "uri",
        "to",
        "dest",
        "destination",
        "redirect",
        "redirect_url",
        "redirect_uri",
        "redirecturl",
        "redirect_to",
        "return",
        "return_to",
        "returnurl",
        "return_url",
        "next",
        "target",
        "goto",
        "go",
        "continue",
        "out",
        "view",
        "link",
        "h5url",
        "h5_url",
        "jump",
        "jumpurl",
        "jump_url",
        "forward",
        "location",
        "callback",
        "fallback",
        "fallback_url",
        "backurl",
        "back_url",
        "success_url",
        "des",
        "params",
    }
)
MAX_PASSTHROUGH_PARAMS = 20
MAX_PASSTHROUGH_BYTES = 2048
RESERVED_PREFIX = "ht_"


def host_matches(host: str, domains: list[str] | tuple[str, ...]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one (dot-boundary match)."""
    host = host.rstrip(".").lower()
    for domain in domains:
        domain = domain.lower()
        if host == domain or host.endswith("." + domain):
            return True
    return False


@dataclass(frozen=True)
class JudgedTarget:
    """A target that passed judgement, split so the hot path can append parameters safely."""

    href: str
    base: str  # href without its fragment
    fragment: str  # "" or "#..."
    host: str
    own_params: frozenset[str]


def judge_web_target(raw: str, domains: list[str] | tuple[str, ...]) -> JudgedTarget:
    """Accept ``raw`` only if a browser would go to https on one of ``domains``.

    Raises InvalidTarget otherwise (relative, other scheme, user-info, port, foreign host).
    """
    if not raw or len(raw) > 2000 or raw != raw.strip() or any(ord(c) < 0x20 for c in raw):
        raise InvalidTarget("target must be an absolute https URL without control characters")
    try:
        url = URL(raw)
    except ValueError as exc:
        raise InvalidTarget(f"target is not a valid absolute URL: {exc}") from exc
    if url.protocol != "https:":
        raise InvalidTarget("target must use https")
    if url.username or url.password:
        raise InvalidTarget("target must not carry user information")
    if url.port:
        raise InvalidTarget("target must use the default https port")
    host = url.hostname.rstrip(".")
    if not host_matches(host, domains):
        raise InvalidTarget(f"host {host!r} is not a registered domain of the target platform")
    href = url.href
    base, sep, frag = href.partition("#")
    own = frozenset(name.lower() for name, _ in _split_query(url.search.lstrip("?")))
    return JudgedTarget(href=href, base=base, fragment=sep + frag, host=host, own_params=own)


def judge_app_target(raw: str, schemes: list[str] | tuple[str, ...]) -> str:
    """An explicit app deep link must use one of the platform's registered schemes."""
    try:
        url = URL(raw)
    except ValueError as exc:
        raise InvalidTarget(f"app link is not a valid URL: {exc}") from exc
    scheme = url.protocol.rstrip(":").lower()
    if scheme not in {s.lower() for s in schemes}:
        raise InvalidTarget(f"app scheme {scheme!r} is not registered for the target platform")
    return str(url.href)


def _split_query(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((name, value))
    return pairs


def encode_param(text: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters."""
    return quote(text, safe="-._~")


def passthrough_query(pairs: list[tuple[str, str]], own_params: frozenset[str]) -> str:
    """Re-encode the caller's query parameters that may travel to the target.

    Dropped: destination-like names, hutong's own ``ht_`` names, names the target's own query
    already sets (they define the destination), and anything past the size limits.
    """
    out: list[str] = []
    size = 0
    for name, value in pairs:
        lname = name.lower()
        if (
            not name
            or lname in DESTINATION_PARAMS
            or lname.startswith(RESERVED_PREFIX)
            or lname in own_params
        ):
            continue
        piece = f"{encode_param(name)}={encode_param(value)}"
        size += len(piece) + 1
        if len(out) >= MAX_PASSTHROUGH_PARAMS or size > MAX_PASSTHROUGH_BYTES:
            break
        out.append(piece)
    return "&".join(out)


def append_query(base: str, fragment: str, extra: str) -> str:
    """``base`` with ``extra`` (already encoded) appended to its query, fragment kept last."""
    if not extra:
        return base + fragment
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return f"{base}{joiner}{extra}{fragment}"
