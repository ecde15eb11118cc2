"""What a redirect worker holds per link and per platform: plain records the jump reads.

Kept apart from ``cache`` (which loads and refreshes them from the store) because these are on
the hot path and compiled with mypyc (setup.py): attribute reads on them are struct reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from hutong.traffic.guard import salt_of


@dataclass(slots=True)
class CachedLink:
    code: str
    link_id: str
    campaign_id: str
    buyer_id: str
    seller_id: str
    placement_id: str
    creative_id: str
    affiliate_id: str
    source: str
    target: str
    surface: str
    base: str
    fragment: str
    own_params: frozenset[str]
    app_url: str
    chain: tuple[str, ...]
    active: bool
    starts_ts: float
    ends_ts: float
    title: str
    passcode: str = ""
    passcode_expires_ts: float = 0.0
    log_fields: str = ""  # the click-log columns fixed by the link, tab-joined once
    salt: int = 0  # stands for the link in the click guard's dedup keys

    def __post_init__(self) -> None:
        self.salt = salt_of(self.code)
        self.log_fields = "\t".join(
            (
                self.code,
                self.link_id,
                self.campaign_id,
                self.buyer_id,
                self.seller_id,
                self.placement_id,
                self.creative_id,
                self.affiliate_id,
                self.source,
                self.target,
                self.surface,
            )
        )


@dataclass(frozen=True, slots=True)
class CachedPlatform:
    slug: str
    name: str
    name_zh: str
    kind: str
    deep_link_template: str
    web_domains: tuple[str, ...]
    app_schemes: tuple[str, ...]
