"""What a User-Agent says: device, the app whose in-app browser sent it, and crawlers.

In-app browser markers are matched against the platforms' registered ``webview_markers``; the
crawler list follows the preview fetchers that inflate click counts (Dub #1860, Shlink #900)
plus the Chinese search and app preview crawlers.
"""

from __future__ import annotations

import enum
import re


class Device(enum.StrEnum):
    IOS = "ios"
    ANDROID = "android"
    HARMONY = "harmony"
    DESKTOP = "desktop"
    OTHER = "other"


MOBILE = frozenset({Device.IOS, Device.ANDROID, Device.HARMONY})

_BOT_RE = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|facebookexternalhit|facebookcatalog|embedly|"
    r"whatsapp|telegram|discord|skypeuripreview|linkedin|pinterest|vkshare|redditbot|"
    r"quora link preview|outbrain|google-inspectiontool|googleother|feedfetcher|"
    r"mediapartners|adsbot|bingpreview|applebot|yandex|baiduspider|yisouspider|sogou|"
    r"360spider|haosouspider|bytespider|petalbot|thirdlandingpagefeinfra|headlesschrome|"
    r"phantomjs|puppeteer|playwright|selenium|curl/|wget/|python-requests|python-urllib|"
    r"python-httpx|aiohttp|go-http-client|java/|libwww|httpclient|okhttp/[0-9.]+$|"
    r"node-fetch|axios/|postmanruntime|insomnia|scrapy|httpie|lighthouse|ahrefs|semrush|"
    r"mj12bot|dotbot|preview|prefetch|monitor|uptime|pingdom|statuscake",
    re.IGNORECASE,
)


def device_of(ua: str) -> Device:
    if "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        return Device.IOS
    if "HarmonyOS" in ua or "OpenHarmony" in ua:
        return Device.HARMONY
    if "Android" in ua:
        return Device.ANDROID
    if "Windows NT" in ua or "Macintosh" in ua or "X11" in ua or "CrOS" in ua:
        return Device.DESKTOP
    return Device.OTHER


def bot_reason(ua: str) -> str:
    """``""`` for a person's browser, else why the agent is taken for a crawler."""
    if not ua or len(ua) < 12:
        return "empty_ua"
    if _BOT_RE.search(ua):
        return "crawler_ua"
    return ""


class WebviewDetector:
    """Maps a User-Agent to the platform whose in-app browser sent it (first marker wins)."""

    def __init__(self, markers: dict[str, list[str]]) -> None:
        pairs = [(marker.lower(), slug) for slug, ms in markers.items() for marker in ms if marker]
        # Longer markers first, so "bytedancewebview" wins over a shorter generic token.
        self._pairs = sorted(pairs, key=lambda p: -len(p[0]))

    def detect(self, ua: str) -> str:
        low = ua.lower()
        for marker, slug in self._pairs:
            if marker in low:
                return slug
        return ""
