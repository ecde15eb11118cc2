"""What each redirect worker holds in memory: links, passcodes, platforms and policies.

The hot path never waits on the database. A worker loads everything at start and then
follows ``change_feed``: a poller thread reads the rows after the last sequence it saw every
``HUTONG_CACHE_POLL_MS`` (500 ms by default), so a cut link or a new policy takes effect on
every worker within a second.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from hutong.store import Store, utcnow
from hutong.traffic.cached import CachedLink, CachedPlatform
from hutong.traffic.models import (
    Campaign,
    ChangeFeed,
    Link,
    LinkPolicy,
    Passcode,
    Placement,
    Platform,
)
from hutong.traffic.policy import PolicyIndex, Rule
from hutong.traffic.urls import append_query, judge_web_target
from hutong.traffic.useragent import WebviewDetector

log = logging.getLogger("hutong.traffic.cache")


def _link_query() -> Select[*tuple[Any, ...]]:
    query: Select[*tuple[Any, ...]] = (
        select(
            Link.code,
            Link.id,
            Link.campaign_id,
            Campaign.tenant_id,
            Placement.tenant_id,
            Link.placement_id,
            Link.creative_id,
            Link.affiliate_id,
            Link.source_platform_id,
            Link.target_platform_id,
            Link.surface,
            Link.web_url,
            Link.fixed_params,
            Link.app_url,
            Link.fallback_chain,
            Link.active,
            Campaign.starts_at,
            Campaign.ends_at,
            Campaign.name,
        )
        .join(Campaign, Campaign.id == Link.campaign_id)
        .outerjoin(Placement, Placement.id == Link.placement_id)
    )
    return query


def _fixed_query(params: dict[str, Any]) -> str:
    from hutong.traffic.urls import encode_param

    return "&".join(f"{encode_param(str(k))}={encode_param(str(v))}" for k, v in params.items())


_SHARED: dict[object, object] = {}
_T = TypeVar("_T")


def _share(value: _T) -> _T:
    """One copy of each value many links repeat (parameter sets, chains), held process-wide."""
    return cast(_T, _SHARED.setdefault(value, value))


def _s(value: str | None) -> str:
    return sys.intern(value) if value else ""


def _to_cached(row: Any, domains: tuple[str, ...]) -> CachedLink:
    """A cache entry; ids repeated across links are interned so a million links fit in RAM."""
    judged = judge_web_target(row[11], domains or ("invalid.invalid",))
    fixed = _fixed_query(
        {k: v for k, v in (row[12] or {}).items() if k.lower() not in judged.own_params}
    )
    return CachedLink(
        code=row[0],
        link_id=row[1],
        campaign_id=_s(row[2]),
        buyer_id=_s(row[3]),
        seller_id=_s(row[4]),
        placement_id=_s(row[5]),
        creative_id=_s(row[6]),
        affiliate_id=_s(row[7]),
        source=_s(row[8]),
        target=_s(row[9]),
        surface=_s(row[10]),
        base=append_query(judged.base, "", fixed) if fixed else judged.base,
        fragment=_s(judged.fragment),
        own_params=_share(judged.own_params | frozenset(k.lower() for k in (row[12] or {}))),
        app_url=_s(row[13]),
        chain=_share(tuple(row[14] or ())),
        active=bool(row[15]),
        starts_ts=row[16].timestamp(),
        ends_ts=row[17].timestamp(),
        title=_s(row[18]),
    )


def rule_of(p: LinkPolicy) -> Rule:
    return Rule(
        id=p.id,
        version=p.version,
        source=p.source_platform_id,
        target=p.target_platform_id,
        surface=p.surface,
        modes=tuple(p.modes),
        valid_from=p.valid_from,
        valid_to=p.valid_to,
        reason=p.reason,
        source_sentence=p.source_sentence,
        date_assumed=p.date_assumed,
    )


def load_rules(session: Session) -> list[Rule]:
    rows = session.scalars(select(LinkPolicy).where(LinkPolicy.retired_at.is_(None)))
    return [rule_of(p) for p in rows]


class LinkCache:
    def __init__(self, store: Store, poll_ms: int = 500) -> None:
        self.store = store
        self.poll_interval = poll_ms / 1000
        self.links: dict[str, CachedLink] = {}
        self.passcodes: dict[str, tuple[str, float]] = {}  # passcode -> (link code, expires)
        self.platforms: dict[str, CachedPlatform] = {}
        self.policies = PolicyIndex([])
        self.webviews = WebviewDetector({})
        self.last_seq = 0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        with self.store.reading() as session:
            self.last_seq = session.scalar(select(func.max(ChangeFeed.seq))) or 0
            self._load_platforms(session)
            self._load_policies(session)
            links: dict[str, CachedLink] = {}
            for row in session.execute(_link_query().execution_options(yield_per=20_000)):
                links[row[0]] = _to_cached(row, self.platforms[row[9]].web_domains)
            self.links = links
            self._load_passcodes(session, None)

    def _load_platforms(self, session: Session) -> None:
        platforms = {}
        markers = {}
        for p in session.scalars(select(Platform)):
            platforms[p.id] = CachedPlatform(
                slug=p.id,
                name=p.name,
                name_zh=p.name_zh,
                kind=p.kind,
                deep_link_template=p.deep_link_template,
                web_domains=tuple(p.web_domains),
                app_schemes=tuple(p.app_schemes),
            )
            markers[p.id] = list(p.webview_markers)
        self.platforms = platforms
        self.webviews = WebviewDetector(markers)

    def _load_policies(self, session: Session) -> None:
        self.policies = PolicyIndex(load_rules(session))

    def _load_passcodes(self, session: Session, link_ids: set[str] | None) -> None:
        now = utcnow()
        query = select(Passcode.code, Passcode.link_id, Passcode.expires_at, Link.code).join(
            Link, Link.id == Passcode.link_id
        )
        query = query.where(Passcode.revoked_at.is_(None), Passcode.expires_at > now)
        if link_ids is not None:
            query = query.where(Passcode.link_id.in_(link_ids))
            for pc, (code, _) in list(self.passcodes.items()):
                link = self.links.get(code)
                if link is not None and link.link_id in link_ids:
                    del self.passcodes[pc]
        for pc, _link_id, expires, code in session.execute(query.order_by(Passcode.expires_at)):
            self.passcodes[pc] = (code, expires.timestamp())
            link = self.links.get(code)
            if link is not None and expires.timestamp() >= link.passcode_expires_ts:
                link.passcode, link.passcode_expires_ts = pc, expires.timestamp()

    # -- following changes ---------------------------------------------------------------
    def refresh(self) -> int:
        """Apply changes recorded since the last call; returns how many were applied."""
        with self.store.reading() as session:
            rows = session.execute(
                select(ChangeFeed.seq, ChangeFeed.entity, ChangeFeed.entity_id)
                .where(ChangeFeed.seq > self.last_seq)
                .order_by(ChangeFeed.seq)
                .limit(10_000)
            ).all()
            if not rows:
                return 0
            entities = {(entity, entity_id) for _, entity, entity_id in rows}
            kinds = {entity for entity, _ in entities}
            if "platform" in kinds:
                self._load_platforms(session)
            if "policy" in kinds:
                self._load_policies(session)
            link_ids = {eid for entity, eid in entities if entity == "link"}
            campaign_ids = {eid for entity, eid in entities if entity == "campaign"}
            self._reload_links(session, link_ids, campaign_ids)
            passcode_links = {eid for entity, eid in entities if entity == "passcode"} | link_ids
            if passcode_links:
                self._load_passcodes(session, passcode_links)
            self.last_seq = rows[-1][0]
        return len(rows)

    def _reload_links(self, session: Session, link_ids: set[str], campaign_ids: set[str]) -> None:
        if not link_ids and not campaign_ids:
            return
        query = _link_query()
        if link_ids:
            cond = Link.id.in_(link_ids)
            query = query.where(cond | Link.campaign_id.in_(campaign_ids) if campaign_ids else cond)
        else:
            query = query.where(Link.campaign_id.in_(campaign_ids))
        for row in session.execute(query):
            fresh = _to_cached(row, self.platforms[row[9]].web_domains)
            old = self.links.get(fresh.code)
            if old is not None:
                fresh.passcode, fresh.passcode_expires_ts = old.passcode, old.passcode_expires_ts
            self.links[fresh.code] = fresh

    def start(self) -> None:
        self._poller = threading.Thread(target=self._poll_loop, name="link-cache", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception:
                log.exception("link cache refresh failed; will retry")


def record_change(session: Session, entity: str, entity_id: str) -> None:
    """Tell every redirect worker that ``entity`` changed (same transaction as the change).

    On PostgreSQL the writers of the feed are serialised by an advisory lock: otherwise a
    transaction holding a lower ``seq`` could commit after a higher one was read, and the
    pollers, which only ask for ``seq > last``, would never see it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7261001)"))
    session.add(ChangeFeed(entity=entity, entity_id=entity_id, at=utcnow()))


def datetime_from_ts(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
