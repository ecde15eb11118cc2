"""The jump: ``GET /j/{code}`` checks the policy, records the click, and sends the user on.

This is the hot path. It reads only memory (``LinkCache``), appends one line to this
process's click log before answering (``SegmentWriter``), and builds the answer as plain
bytes so the dedicated listener (``traffic.listener``) can write it without touching ASGI.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from hutong.errors import TooManyRequests
from hutong.lake.segments import SegmentWriter, clean, encode_line
from hutong.privacy.hashing import KeyedHasher
from hutong.traffic import pages
from hutong.traffic.adplatforms.registry import LANDING_PARAMS
from hutong.traffic.cache import LinkCache
from hutong.traffic.cached import CachedLink
from hutong.traffic.codes import find_passcodes
from hutong.traffic.errors import PasscodeExpired, PasscodeNotFound
from hutong.traffic.guard import FLOOD, ClickGuard, key_of
from hutong.traffic.policy import Decision
from hutong.traffic.tokens import TokenSigner
from hutong.traffic.urls import append_query, encode_param, passthrough_query
from hutong.traffic.useragent import MOBILE, Device, bot_reason, device_of

TOKEN_PARAM = "ht_ct"  # noqa: S105 - a query parameter name, not a secret
SOURCE_PARAM = "ht_src"
UA_MEMO_SIZE = 50_000
# Query parameters an ad platform fills with the device's advertising id (its click macros,
# e.g. Ocean Engine's ``oaid=__OAID__``): a click that carries one is keyed by that id, in the
# same namespace as impressions and orders, so attribution can join them by device.
DEVICE_PARAMS = ("oaid", "idfa", "caid", "android_id", "imei", "device_id")
# device, in-app platform, bot reason, cleaned UA, keyed hash of the cleaned UA (16 hex) and
# that hash as a number
UAProfile = tuple[Device, str, str, str, str, int]


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
    record: bytes = b""  # the click-log line that must be written before this is answered


class _RandomPool:
    """Click ids' random part, read from the OS CSPRNG 40 KiB at a time instead of per click.

    A forked child starts with an empty pool, so two processes never hand out the same bytes.
    """

    SIZE = 40_960

    def __init__(self) -> None:
        self.buf = b""
        self.at = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.buf, self.at = b"", 0

    def take(self, n: int) -> bytes:
        at = self.at
        if at + n > len(self.buf):
            self.buf, at = os.urandom(self.SIZE), 0
        self.at = at + n
        return self.buf[at : at + n]


def _device_id(pairs: dict[str, str]) -> str:
    """The first real advertising id among the parameters; an unfilled macro (``__OAID__``)
    or an id zeroed by limited ad tracking is none."""
    for name in DEVICE_PARAMS:
        value = pairs.get(name)
        if value and not value.startswith("__") and value.strip("0-") != "":
            return value
    return ""


def _referer_host(referer: str) -> str:
    if not referer:
        return ""
    rest = referer.partition("://")[2]
    return clean(rest.split("/", 1)[0].split("?", 1)[0], 255)


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
        flood_per_minute: int = 6000,
    ) -> None:
        self.cache = cache
        self.clicks = clicks
        self.signer = signer
        self.public_url = public_url
        self.guard = ClickGuard(dedup_seconds, rate_per_minute, flood_per_minute)
        # BLAKE2b in keyed mode is a MAC (RFC 7693 §2.9), at a third of HMAC-SHA256's cost on
        # this path; the key is the same PII key, so these hashes unlink with it.
        self._mac = hashlib.blake2b(key=hashlib.sha256(pii_key).digest(), digest_size=16)
        self._devices = KeyedHasher(pii_key)
        self._ua_memo: dict[str, UAProfile] = {}
        self._random = _RandomPool()

    def _keyed(self, text: str) -> str:
        mac = self._mac.copy()
        mac.update(text.encode())
        return mac.hexdigest()

    def _profile(self, ua: str) -> UAProfile:
        """Device, in-app-browser platform, bot reason and cleaned text of a UA, memoised."""
        known = self._ua_memo.get(ua)
        if known is not None:
            return known
        if len(self._ua_memo) >= UA_MEMO_SIZE:
            self._ua_memo.clear()
        app = self.cache.webviews.detect(ua) if ua else ""
        cleaned = clean(ua, 300)
        ua_key = self._keyed("ua:" + cleaned)[:16]
        known = (device_of(ua), app, bot_reason(ua), cleaned, ua_key, key_of(ua_key))
        self._ua_memo[ua] = known
        return known

    # -- the jump ------------------------------------------------------------------------
    def jump(self, req: JumpRequest) -> JumpAnswer:
        """The answer to a jump, with its click-log line in ``record`` (not yet written).

        The caller writes ``record`` before it sends the answer (the listener does so for a
        whole event-loop turn of clicks at once); ``jump_and_log`` does both, one at a time.
        """
        link = self.cache.links.get(req.code)
        if link is None or not link.active:
            return pages.not_found()
        now = time.time()
        profile = self._profile(req.user_agent)
        device, app = profile[0], profile[1]
        source = app if app and app in self.cache.platforms else link.source
        decision = self.cache.policies.decide_ts(source, link.target, link.surface, now)
        mode = self._choose_mode(link, decision, device)
        if req.method == "HEAD":  # a HEAD is never a click: answer without recording
            return self._answer(link, mode, b"", False)
        pairs = self._pairs(req.query)
        via = "qr" if pairs.pop(SOURCE_PARAM, "") == "qr" else "jump"
        click_id, bot_flag, record, _, _ = self._record(
            link, req, now, decision, profile, mode, via, pairs
        )
        if not record:
            return pages.too_many(now)
        answer = self._answer(link, mode, click_id, bot_flag, pairs)
        answer.record = record
        return answer

    def jump_and_log(self, req: JumpRequest) -> JumpAnswer:
        """``jump`` with its click written to the log before returning."""
        answer = self.jump(req)
        if answer.record:
            self.clicks.append_bytes(answer.record)
        return answer

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
        decision: Decision,
        profile: UAProfile,
        mode: str,
        via: str,
        pairs: dict[str, str],
    ) -> tuple[bytes, bool, bytes, str, str]:
        """The click's id (16 raw bytes), whether it is a bot's, its log line, its own event id
        and its bot reason.

        The click id is the time in ms (6 bytes) and 10 random bytes, so ids sort by time and
        cannot be guessed. The device key is the address's keyed hash and the UA's side by
        side (both under the PII key): one MAC per click instead of two. A click whose URL
        carries an advertising id is keyed by that id's hash instead, and the id itself is not
        logged.
        """
        ms = int(now * 1000)
        raw_id = ms.to_bytes(6, "big") + self._random.take(10)
        event_id = raw_id.hex()
        device, app, reason, ua_clean, ua_key, ua_int = profile
        ip_hash = self._keyed("ip:" + req.client_ip)
        ip_int = key_of(ip_hash)
        device_id = _device_id(pairs) if pairs else ""
        if device_id:
            device_key = self._devices.hash("device", device_id)
            pairs = {k: v for k, v in pairs.items() if k not in DEVICE_PARAMS}
        else:
            device_key = ip_hash[:16] + ua_key
        if not reason and req.purpose:
            reason = "prefetch"
        guard = self.guard
        # every tap counts against its address, a known crawler's too
        seen = guard.bot_reason(ip_int, ua_key, link.code, now)
        if seen == FLOOD:  # neither served nor logged, and no dedupe window opened
            return raw_id, True, b"", event_id, FLOOD
        if not reason:
            reason = seen
        leads_on = mode in ("web", "app")
        original = (
            guard.duplicate_of(ip_int ^ ua_int ^ link.salt, event_id, now) if leads_on else ""
        )
        # The same tap can reach hutong twice: the content platform's ad system calls the
        # monitoring URL, and the user follows the landing URL, which carries the platform's
        # click key. Whichever comes second is a duplicate of the first.
        tap = pairs.get(LANDING_PARAMS.get(link.source, ""), "") if pairs and leads_on else ""
        if tap:
            earlier = guard.duplicate_of(self.tap_key(link.source, tap), original or event_id, now)
            if earlier and not original:
                original = earlier
        click_id = original or event_id
        in_flight = link.starts_ts <= now < link.ends_ts
        billable = leads_on and not reason and not original and in_flight
        rule = decision.rule
        # One f-string, not a list and a join: this line is built on every click. Only the
        # cleaned User-Agent, referer host and parameters come from the request.
        record = encode_line(
            f"{event_id}\t{click_id}\t{ms}\t{link.log_fields}\t{app}\t{via}\t{mode}\t"
            f"{'1' if decision.allowed else '0'}\t{rule.id if rule else ''}\t{decision.version}\t"
            f"{device.value}\t{device_key}\t{ip_hash}\t{'1' if original else '0'}\t"
            f"{'1' if reason else '0'}\t{reason}\t{'1' if billable else '0'}\t"
            f"{self.signer.active_kid if leads_on else ''}\t{ua_clean}\t"
            f"{_referer_host(req.referer) if req.referer else ''}\t"
            f"{clean('&'.join(f'{k}={v}' for k, v in pairs.items()), 500) if pairs else ''}"
        )
        raw_click = bytes.fromhex(original) if original else raw_id
        return raw_click, bool(reason), record, event_id, reason

    def tap_key(self, platform_id: str, tap: str) -> int:
        """The click guard's key for one tap as a content platform's ad system names it."""
        return key_of(self._keyed("ad:" + platform_id + ":" + tap))

    def monitor(
        self, code: str, platform_id: str, tap: str, client_ip: str, user_agent: str, device_id: str
    ) -> tuple[str, str, str] | None:
        """Record an ad system's monitoring call for one tap as a click (``via`` "monitor");
        the jump for the same tap, before or after, is its duplicate (and it the jump's).

        Returns the call's event id, the touchpoint's click id (the call's own, or the earlier
        jump's) and the bot reason (``""``: none); None when no active link ``code`` of that
        platform exists. The caller writes nothing else to the click log.
        """
        link = self.cache.links.get(code)
        if link is None or not link.active or link.source != platform_id:
            return None
        now = time.time()
        profile = self._profile(user_agent)
        decision = self.cache.policies.decide_ts(link.source, link.target, link.surface, now)
        mode = self._choose_mode(link, decision, profile[0])
        pairs = {LANDING_PARAMS.get(link.source, "click"): tap}
        if device_id:
            pairs["device_id"] = device_id
        req = JumpRequest("GET", code, "", user_agent, "", client_ip, "")
        click_id, _, record, event_id, reason = self._record(
            link, req, now, decision, profile, mode, "monitor", pairs
        )
        if not record:
            raise TooManyRequests("too many taps from this address; wait a minute")
        self.clicks.append_bytes(record)
        return event_id, click_id.hex(), reason

    def _token(self, link: CachedLink, click_id: bytes, bot: bool) -> str:
        # a token is base64url and dots only: unreserved characters, nothing to encode
        return f"{TOKEN_PARAM}={self.signer.sign_raw(click_id, link.code, bot=bot)}"

    def web_location(
        self, link: CachedLink, click_id: bytes, bot: bool, pairs: dict[str, str]
    ) -> str:
        extra = passthrough_query(list(pairs.items()), link.own_params) if pairs else ""
        if click_id:
            token = self._token(link, click_id, bot)
            extra = f"{extra}&{token}" if extra else token
        return append_query(link.base, link.fragment, extra)

    def app_location(self, link: CachedLink, web: str, click_id: bytes, bot: bool) -> str:
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
        click_id: bytes,
        bot: bool,
        pairs: dict[str, str] | None = None,
    ) -> JumpAnswer:
        if mode in ("web", "app"):
            location = self.web_location(link, click_id, bot, pairs or {})
            if mode == "app":
                location = self.app_location(link, location, click_id, bot)
            return JumpAnswer(302, [("location", location), ("cache-control", "no-store")])
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
        if self.guard.over_rate(ip_hash, now):
            raise TooManyRequests("too many passcode attempts from this address; wait a minute")
        if expired:
            raise PasscodeExpired("this passcode has expired; ask for a new one")
        raise PasscodeNotFound("no live passcode found in the text")

    def _redeem(
        self, link: CachedLink, passcode: str, req: JumpRequest, now: float
    ) -> dict[str, str]:
        # The rule recorded is the one in force for the link's own source: the rule that made
        # a passcode necessary (or, if links are open, that none was).
        decision = self.cache.policies.decide_ts(link.source, link.target, link.surface, now)
        profile = self._profile(req.user_agent)
        click_id, bot, record, _, _ = self._record(
            link, req, now, decision, profile, "web", "passcode", {}
        )
        self.clicks.append_bytes(record)
        location = self.web_location(link, click_id, bot, {})
        return {
            "code": link.code,
            "passcode": passcode,
            "click_id": click_id.hex(),
            "click_token": self.signer.sign_raw(click_id, link.code, bot=bot),
            "location": location,
            "target_platform": link.target,
        }
