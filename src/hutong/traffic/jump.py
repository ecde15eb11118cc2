"""The jump: ``GET /j/{code}`` checks the policy, records the click, and sends the user on.

This is the hot path. It reads only memory (``LinkCache``), appends one line to this
process's click log before answering (``SegmentWriter``), and builds the answer as plain
bytes so the dedicated listener (``traffic.listener``) can write it without touching ASGI.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from hutong.errors import Gone, NotFound, TooManyRequests
from hutong.lake.segments import SegmentWriter, clean
from hutong.traffic import pages
from hutong.traffic.cache import CachedLink, LinkCache
from hutong.traffic.codes import find_passcodes
from hutong.traffic.policy import Decision
from hutong.traffic.tokens import TokenSigner
from hutong.traffic.urls import append_query, encode_param, passthrough_query
from hutong.traffic.useragent import MOBILE, Device, bot_reason, device_of

TOKEN_PARAM = "ht_ct"  # noqa: S105 - a query parameter name, not a secret
SOURCE_PARAM = "ht_src"
HUMAN_GAP_SECONDS = 1.0  # two different links tapped by one device faster than this: scripted


@dataclass(slots=True)
class JumpRequest:
    method: str
    code: str
    query: str = ""
    user_agent: str = ""
    referer: str = ""
    client_ip: str = ""
    purpose: str = ""


@dataclass(slots=True)
class JumpAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    click_id: str = ""


class PasscodeNotFound(NotFound):
    code = "passcode_not_found"


class PasscodeExpired(Gone):
    code = "passcode_expired"


@dataclass(slots=True)
class _Seen:
    click_id: str
    expires: float


class ClickGuard:
    """Per-process dedup windows, rate counters and timing checks (Redis-free default)."""

    def __init__(self, dedup_seconds: int, rate_per_minute: int) -> None:
        self.dedup_seconds = dedup_seconds
        self.rate_per_minute = rate_per_minute
        self._seen: dict[str, _Seen] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._rate: dict[str, list[int]] = {}
        self._last_tap: dict[str, tuple[float, str]] = {}
        self._swept = 0.0

    def duplicate_of(self, key: str, click_id: str, now: float) -> str:
        """The earlier click id if ``key`` clicked within the window, else records this one."""
        seen = self._seen.get(key)
        if seen is not None and seen.expires > now:
            return seen.click_id
        self._seen[key] = _Seen(click_id, now + self.dedup_seconds)
        self._order.append((now + self.dedup_seconds, key))
        return ""

    def over_rate(self, ip_hash: str, now: float) -> bool:
        minute = int(now // 60)
        slot = self._rate.get(ip_hash)
        if slot is None or slot[0] != minute:
            self._rate[ip_hash] = [minute, 1]
            return False
        slot[1] += 1
        return slot[1] > self.rate_per_minute

    def too_fast(self, device_key: str, code: str, now: float) -> bool:
        last = self._last_tap.get(device_key)
        self._last_tap[device_key] = (now, code)
        return last is not None and last[1] != code and now - last[0] < HUMAN_GAP_SECONDS

    def sweep(self, now: float) -> None:
        if now - self._swept < 5:
            return
        self._swept = now
        while self._order and self._order[0][0] <= now:
            _, key = self._order.popleft()
            seen = self._seen.get(key)
            if seen is not None and seen.expires <= now:
                del self._seen[key]
        minute = int(now // 60)
        self._rate = {k: v for k, v in self._rate.items() if v[0] == minute}
        self._last_tap = {k: v for k, v in self._last_tap.items() if now - v[0] < 60}


def _referer_host(referer: str) -> str:
    if not referer:
        return ""
    rest = referer.partition("://")[2]
    return clean(rest.split("/", 1)[0].split("?", 1)[0], 255)


def _bool(flag: bool) -> str:
    return "1" if flag else "0"


class Jumper:
    def __init__(
        self,
        cache: LinkCache,
        clicks: SegmentWriter,
        signer: TokenSigner,
        pii_key: bytes,
        *,
        public_url: str,
        dedup_seconds: int = 3600,
        rate_per_minute: int = 120,
    ) -> None:
        self.cache = cache
        self.clicks = clicks
        self.signer = signer
        self.public_url = public_url
        self.guard = ClickGuard(dedup_seconds, rate_per_minute)
        self._mac = hmac.new(pii_key, digestmod=hashlib.sha256)

    def _keyed(self, text: str) -> str:
        mac = self._mac.copy()
        mac.update(text.encode())
        return mac.hexdigest()[:32]

    # -- the jump ------------------------------------------------------------------------
    def jump(self, req: JumpRequest) -> JumpAnswer:
        link = self.cache.links.get(req.code)
        if link is None or not link.active:
            return pages.not_found()
        now = time.time()
        ua = req.user_agent
        app = self.cache.webviews.detect(ua) if ua else ""
        source = app if app and app in self.cache.platforms else link.source
        decision = self.cache.policies.decide_ts(source, link.target, link.surface, now)
        device = device_of(ua)
        mode = self._choose_mode(link, decision, device)
        if req.method == "HEAD":  # a HEAD is never a click: answer without recording
            return self._answer(link, mode, "", False)
        pairs = self._pairs(req.query)
        via = "qr" if pairs.pop(SOURCE_PARAM, "") == "qr" else "jump"
        click_id, bot = self._record(link, req, now, app, decision, device, mode, via, pairs)
        return self._answer(link, mode, click_id, bot, pairs)

    @staticmethod
    def _pairs(query: str) -> dict[str, str]:
        if not query:
            return {}
        try:
            return dict(parse_qsl(query, keep_blank_values=True, max_num_fields=50))
        except ValueError:
            return {}

    def _choose_mode(self, link: CachedLink, decision: Decision, device: Device) -> str:
        for mode in link.chain:
            if mode not in decision.modes:
                continue
            if mode == "app" and (device not in MOBILE or not self._has_app_link(link)):
                continue
            if mode == "passcode" and not link.passcode:
                continue
            return mode
        return "none"

    def _has_app_link(self, link: CachedLink) -> bool:
        return bool(link.app_url or self.cache.platforms[link.target].deep_link_template)

    def _record(
        self,
        link: CachedLink,
        req: JumpRequest,
        now: float,
        app: str,
        decision: Decision,
        device: Device,
        mode: str,
        via: str,
        pairs: dict[str, str],
    ) -> tuple[str, bool]:
        """Append the click to the log (before any answer); returns its click id and bot flag."""
        ms = int(now * 1000)
        event_id = f"{ms:012x}{os.urandom(10).hex()}"
        ip_hash = self._keyed("ip:" + req.client_ip)
        device_key = self._keyed(f"dev:{req.client_ip}|{ua_key(req.user_agent)}")
        guard = self.guard
        guard.sweep(now)
        reason = bot_reason(req.user_agent)
        if not reason and req.purpose:
            reason = "prefetch"
        if not reason and guard.over_rate(ip_hash, now):
            reason = "rate"
        if not reason and guard.too_fast(device_key, link.code, now):
            reason = "timing"
        leads_on = mode in ("web", "app")
        original = (
            guard.duplicate_of(f"{link.code}|{device_key}", event_id, now) if leads_on else ""
        )
        click_id = original or event_id
        in_flight = link.starts_ts <= now < link.ends_ts
        billable = leads_on and not reason and not original and in_flight
        rule = decision.rule
        self.clicks.append(
            [
                event_id,
                click_id,
                str(ms),
                link.code,
                link.link_id,
                link.campaign_id,
                link.buyer_id,
                link.seller_id,
                link.placement_id,
                link.creative_id,
                link.affiliate_id,
                link.source,
                app,
                link.target,
                link.surface,
                via,
                mode,
                _bool(decision.allowed),
                rule.id if rule else "",
                str(decision.version),
                device.value,
                device_key,
                ip_hash,
                _bool(bool(original)),
                _bool(bool(reason)),
                reason,
                _bool(billable),
                self.signer.active_kid if leads_on else "",
                clean(req.user_agent, 300),
                _referer_host(req.referer),
                clean("&".join(f"{k}={v}" for k, v in pairs.items()), 500) if pairs else "",
            ]
        )
        return click_id, bool(reason)

    def _token(self, link: CachedLink, click_id: str, bot: bool) -> str:
        return f"{TOKEN_PARAM}={encode_param(self.signer.sign(click_id, link.code, bot=bot))}"

    def web_location(
        self, link: CachedLink, click_id: str, bot: bool, pairs: dict[str, str]
    ) -> str:
        extra = passthrough_query(list(pairs.items()), link.own_params) if pairs else ""
        if click_id:
            token = self._token(link, click_id, bot)
            extra = f"{extra}&{token}" if extra else token
        return append_query(link.base, link.fragment, extra)

    def app_location(self, link: CachedLink, web: str, click_id: str, bot: bool) -> str:
        if link.app_url:
            if not click_id:
                return link.app_url
            return append_query(link.app_url, "", self._token(link, click_id, bot))
        template = self.cache.platforms[link.target].deep_link_template
        return template.replace("{url}", encode_param(web))

    def _answer(
        self,
        link: CachedLink,
        mode: str,
        click_id: str,
        bot: bool,
        pairs: dict[str, str] | None = None,
    ) -> JumpAnswer:
        if mode in ("web", "app"):
            location = self.web_location(link, click_id, bot, pairs or {})
            if mode == "app":
                location = self.app_location(link, location, click_id, bot)
            return JumpAnswer(
                302, [("location", location), ("cache-control", "no-store")], click_id=click_id
            )
        target = self.cache.platforms[link.target]
        short = f"{self.public_url}/j/{link.code}?{SOURCE_PARAM}=qr"
        if mode == "passcode":
            return pages.passcode_page(link, target, short)
        if mode == "qr":
            return pages.qr_page(link, target, short)
        return pages.forbidden(link, target)

    # -- passcodes -------------------------------------------------------------------------
    def resolve_passcode(self, text: str, req: JumpRequest) -> dict[str, str]:
        """Find a live passcode in pasted ``text`` and record the click it stands for.

        Raises PasscodeNotFound, PasscodeExpired, or TooManyRequests after repeated misses
        from one address (passcodes are unguessable only while guessing is throttled).
        """
        now = time.time()
        ip_hash = self._keyed("ip:" + req.client_ip)
        expired = ""
        for candidate in find_passcodes(text):
            entry = self.cache.passcodes.get(candidate)
            if entry is None:
                continue
            code, expires = entry
            link = self.cache.links.get(code)
            if link is None or not link.active:
                continue
            if expires <= now:
                expired = candidate
                continue
            return self._redeem(link, candidate, req, now)
        if self.guard.over_rate("miss:" + ip_hash, now):
            raise TooManyRequests("too many passcode attempts from this address; wait a minute")
        if expired:
            raise PasscodeExpired("this passcode has expired; ask for a new one")
        raise PasscodeNotFound("no live passcode found in the text")

    def _redeem(
        self, link: CachedLink, passcode: str, req: JumpRequest, now: float
    ) -> dict[str, str]:
        app = self.cache.webviews.detect(req.user_agent) if req.user_agent else ""
        # The rule recorded is the one in force for the link's own source: the rule that made
        # a passcode necessary (or, if links are open, that none was).
        decision = self.cache.policies.decide_ts(link.source, link.target, link.surface, now)
        device = device_of(req.user_agent)
        click_id, bot = self._record(link, req, now, app, decision, device, "web", "passcode", {})
        location = self.web_location(link, click_id, bot, {})
        return {
            "code": link.code,
            "passcode": passcode,
            "click_id": click_id,
            "click_token": self.signer.sign(click_id, link.code, bot=bot),
            "location": location,
            "target_platform": link.target,
        }


def ua_key(ua: str) -> str:
    return ua[:300]
