"""The content platforms' ad-tracking modules, by name and by the hutong platform they serve."""

from __future__ import annotations

from hutong.errors import NotFound
from hutong.traffic.adplatforms.bilibili import Bilibili
from hutong.traffic.adplatforms.kuaishou import Kuaishou
from hutong.traffic.adplatforms.oceanengine import OceanEngine
from hutong.traffic.adplatforms.protocol import AdPlatform
from hutong.traffic.adplatforms.xiaohongshu import Xiaohongshu

PLATFORMS: dict[str, AdPlatform] = {
    p.name: p for p in (OceanEngine(), Kuaishou(), Bilibili(), Xiaohongshu())
}
BY_CONTENT_PLATFORM: dict[str, AdPlatform] = {p.content_platform: p for p in PLATFORMS.values()}
# The jump reads these: a landing URL's parameter that carries the ad system's click key, per
# source platform of the link (so the jump and the monitoring call for one tap meet).
LANDING_PARAMS: dict[str, str] = {p.content_platform: p.landing_param for p in PLATFORMS.values()}


def platform(name: str) -> AdPlatform:
    found = PLATFORMS.get(name)
    if found is None:
        raise NotFound(f"no ad platform {name!r}; one of {', '.join(PLATFORMS)}")
    return found
