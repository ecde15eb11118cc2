"""The wiring: one object holding the settings, the store and the hot-path state.

``build_runtime`` is the bootstrap (as in Cosmic Python): the app, the CLI, the worker and the
tests all get their dependencies from it, and nothing else constructs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from hutong.config import Settings
from hutong.lake.schema import CLICKS, IMPRESSIONS, LIVE_EVENTS
from hutong.lake.segments import SegmentWriter
from hutong.live.intake import LiveHub
from hutong.logistics.registry import CARRIERS, PLATFORMS
from hutong.logistics.service import Logistics
from hutong.payments.registry import PROVIDERS
from hutong.payments.service import Payments
from hutong.privacy.hashing import KeyedHasher
from hutong.sealing import Sealer
from hutong.store import Store
from hutong.traffic.cache import LinkCache
from hutong.traffic.impressions import ImpressionIntake
from hutong.traffic.jump import Jumper
from hutong.traffic.tokens import TokenSigner


@dataclass
class Runtime:
    settings: Settings
    store: Store
    cache: LinkCache
    signer: TokenSigner
    hasher: KeyedHasher
    clicks: SegmentWriter
    impressions_log: SegmentWriter
    live_log: SegmentWriter
    jumper: Jumper
    impressions: ImpressionIntake
    live: LiveHub
    payments: Payments
    logistics: Logistics

    def close(self) -> None:
        self.payments.client.close()
        self.logistics.client.close()
        self.cache.stop()
        self.clicks.close()
        self.impressions_log.close()
        self.live_log.close()


def build_runtime(settings: Settings, store: Store | None = None) -> Runtime:
    store = store or Store.from_url(settings.database_url)
    cache = LinkCache(store, settings.cache_poll_ms)
    cache.load()
    signer = TokenSigner(settings.token_keys)
    hasher = KeyedHasher(settings.pii_key)
    clicks = SegmentWriter(
        settings.clicklog_dir,
        CLICKS.kind,
        fsync_ms=settings.click_fsync_ms,
        rotate_seconds=settings.click_segment_seconds,
    )
    impressions_log = SegmentWriter(
        settings.clicklog_dir,
        IMPRESSIONS.kind,
        fsync_ms=settings.click_fsync_ms,
        rotate_seconds=settings.click_segment_seconds,
    )
    live_log = SegmentWriter(
        settings.clicklog_dir,
        LIVE_EVENTS.kind,
        fsync_ms=settings.click_fsync_ms,
        rotate_seconds=settings.click_segment_seconds,
    )
    jumper = Jumper(
        cache,
        clicks,
        signer,
        settings.pii_key,
        public_url=settings.public_url,
        dedup_seconds=settings.click_dedup_seconds,
        rate_per_minute=settings.bot_rate_per_minute,
        flood_per_minute=settings.jump_flood_per_minute,
    )
    intake = ImpressionIntake(impressions_log, hasher, settings.click_dedup_seconds)
    return Runtime(
        settings,
        store,
        cache,
        signer,
        hasher,
        clicks,
        impressions_log,
        live_log,
        jumper,
        intake,
        LiveHub(live_log, hasher, settings.clicklog_dir, settings.lake_dir),
        build_payments(settings, store),
        build_logistics(settings, store),
    )


def build_payments(settings: Settings, store: Store) -> Payments:
    """The payment service's wiring (the server's and each worker's own)."""
    return Payments(
        store=store,
        sealer=Sealer(settings.pii_key),
        providers=PROVIDERS,
        client=httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)),
        public_url=settings.public_url,
        tolerance_seconds=settings.postback_tolerance_seconds,
    )


def build_logistics(settings: Settings, store: Store) -> Logistics:
    """The logistics service's wiring (the server's and each worker's own)."""
    return Logistics(
        store=store,
        sealer=Sealer(settings.pii_key),
        carriers=CARRIERS,
        platforms=PLATFORMS,
        client=httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)),
        public_url=settings.public_url,
    )
