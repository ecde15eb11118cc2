"""Impression intake: batches from content platforms, deduplicated and bot-flagged, to the lake.

A batch is idempotent on ``(tenant, batch_key)``. Each impression's event id is derived from
the tenant, the batch key and its position, so a batch retried after a crash writes the same
ids again and the lake keeps one row per id (readers and compaction dedupe on ``event_id``).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.errors import NotFound
from hutong.ids import new_id
from hutong.lake.segments import SegmentWriter
from hutong.privacy.hashing import KeyedHasher
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.guard import ClickGuard, key_of, salt_of
from hutong.traffic.models import Campaign, CampaignPlacement, ImpressionBatch, Link, Placement
from hutong.traffic.schemas import ImpressionBatchIn, ImpressionBatchOut, ImpressionIn
from hutong.traffic.useragent import bot_reason, device_of

FUTURE_SLACK_SECONDS = 300  # clock skew a platform's batch may have
IMPRESSIONS_PER_DEVICE_MINUTE = 60  # one screen cannot show a person more ads than this


def _event_id(tenant_id: str, batch_key: str, index: int) -> str:
    return hashlib.sha256(f"{tenant_id}|{batch_key}|{index}".encode()).hexdigest()[:32]


class ImpressionIntake:
    def __init__(self, writer: SegmentWriter, hasher: KeyedHasher, dedup_seconds: int) -> None:
        self.writer = writer
        self.hasher = hasher
        self.guard = ClickGuard(dedup_seconds, rate_per_minute=10**9)

    def ingest(
        self, session: Session, who: Principal, batch: ImpressionBatchIn
    ) -> ImpressionBatchOut:
        """Record a batch once; NotFound names the first impression the caller may not report."""
        who.require_admin()
        if who.kind is not TenantKind.CONTENT_PLATFORM and not who.is_operator:
            raise NotFound("only content platforms report impressions")
        done = session.scalar(
            select(ImpressionBatch).where(
                ImpressionBatch.tenant_id == who.tenant_id,
                ImpressionBatch.batch_key == batch.batch_key,
            )
        )
        if done is not None:
            return _out(done, replayed=True)
        placements = self._placements(session, who, batch.impressions)
        links = self._links(session, batch.impressions)
        batch_id = new_id("imb")
        now = time.time()
        received_ms = str(int(now * 1000))
        accepted = duplicates = bots = 0
        bought: dict[str, set[tuple[str, str]]] = {}
        per_minute: Counter[tuple[str, int]] = Counter()  # within this batch
        for i, imp in enumerate(batch.impressions):
            placement = placements[imp.placement_id]
            link = links.get(imp.link_code or "")
            campaign_id = imp.campaign_id or (link.campaign_id if link else "")
            if campaign_id and campaign_id not in bought:
                bought[campaign_id] = self._bought(session, campaign_id)
            if campaign_id and (placement.id, campaign_id) not in bought[campaign_id]:
                raise NotFound(f"impressions[{i}]: campaign {campaign_id} not on that placement")
            device_key = self.hasher.hash("device", imp.device_id) if imp.device_id else ""
            ts = imp.ts.timestamp()
            reason = bot_reason(imp.user_agent) if imp.user_agent else ""
            if not reason and ts > now + FUTURE_SLACK_SECONDS:
                reason = "future_timestamp"  # shown after it was received: impossible
            if not reason and device_key:
                per_minute[(device_key, int(ts // 60))] += 1
                if per_minute[(device_key, int(ts // 60))] > IMPRESSIONS_PER_DEVICE_MINUTE:
                    reason = "rate"
            stamp = f"{int(ts * 1000):012x}"  # the guard reads an event's time from its id
            dup = bool(device_key) and bool(
                self.guard.duplicate_of(
                    key_of(device_key) ^ salt_of(f"{placement.id}|{campaign_id}"), stamp, ts
                )
            )
            billable = not reason and not dup
            accepted += billable
            duplicates += dup
            bots += bool(reason)
            self.writer.append(
                [
                    _event_id(who.tenant_id, batch.batch_key, i),
                    str(int(ts * 1000)),
                    received_ms,
                    batch_id,
                    placement.tenant_id,
                    placement.id,
                    campaign_id,
                    imp.creative_id or "",
                    link.id if link else "",
                    placement.platform_id,
                    device_of(imp.user_agent).value if imp.user_agent else "other",
                    device_key,
                    "1" if dup else "0",
                    "1" if reason else "0",
                    reason,
                    "1" if billable else "0",
                ]
            )
        record = ImpressionBatch(
            id=batch_id,
            tenant_id=who.tenant_id,
            batch_key=batch.batch_key,
            received=len(batch.impressions),
            accepted=accepted,
            duplicates=duplicates,
            bots=bots,
        )
        session.add(record)
        session.flush()
        return _out(record, replayed=False)

    @staticmethod
    def _placements(
        session: Session, who: Principal, items: list[ImpressionIn]
    ) -> dict[str, Placement]:
        ids = {imp.placement_id for imp in items}
        found = {p.id: p for p in session.scalars(select(Placement).where(Placement.id.in_(ids)))}
        for i, imp in enumerate(items):
            placement = found.get(imp.placement_id)
            if placement is None or (not who.is_operator and placement.tenant_id != who.tenant_id):
                raise NotFound(f"impressions[{i}]: placement {imp.placement_id} not found")
        return found

    @staticmethod
    def _links(session: Session, items: list[ImpressionIn]) -> dict[str, Link]:
        codes = {imp.link_code for imp in items if imp.link_code}
        if not codes:
            return {}
        return {lk.code: lk for lk in session.scalars(select(Link).where(Link.code.in_(codes)))}

    @staticmethod
    def _bought(session: Session, campaign_id: str) -> set[tuple[str, str]]:
        rows = session.execute(
            select(CampaignPlacement.placement_id, CampaignPlacement.campaign_id)
            .join(Campaign, Campaign.id == CampaignPlacement.campaign_id)
            .where(CampaignPlacement.campaign_id == campaign_id)
        )
        return {(p, c) for p, c in rows}


def _out(batch: ImpressionBatch, *, replayed: bool) -> ImpressionBatchOut:
    return ImpressionBatchOut(
        batch_id=batch.id,
        batch_key=batch.batch_key,
        received=batch.received,
        accepted=batch.accepted,
        duplicates=batch.duplicates,
        bots=batch.bots,
        replayed=replayed,
    )
