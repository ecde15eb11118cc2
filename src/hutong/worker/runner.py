"""The worker loop: each job runs on its own interval; several workers may run at once."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from hutong.config import Settings
from hutong.lake.compact import compact
from hutong.lake.export import export
from hutong.lake.schema import SCHEMAS
from hutong.logistics.service import (
    Logistics,
    ask_unsettled_again,
    flag_stale,
    intercept_refunded,
    poll_due,
)
from hutong.payments.service import Payments, sync_due
from hutong.runtime import build_logistics, build_payments
from hutong.store import Store, utcnow
from hutong.traffic.service import renew_passcodes
from hutong.worker.outbox import TIMEOUT, deliver_due

log = logging.getLogger("hutong.worker")


@dataclass
class Job:
    name: str
    every: float
    run: Callable[[], object]
    last: float = field(default=0.0)


def compact_all(settings: Settings) -> dict[str, int]:
    """Compact every sealed click and impression segment into the lake."""
    done = {}
    for kind, schema in SCHEMAS.items():
        result = compact(settings.clicklog_dir, settings.lake_dir, schema)
        done[kind] = result.rows
    return done


def jobs(
    settings: Settings,
    store: Store,
    client: httpx.Client,
    payments: Payments,
    logistics: Logistics,
) -> list[Job]:
    def passcodes() -> int:
        with store.transaction() as session:
            return renew_passcodes(session, settings.passcode_ttl_days, dt.timedelta(days=3))

    def order_timeouts() -> int:
        from hutong.commerce.orders import expire_unpaid

        with store.transaction() as session:
            return expire_unpaid(session)

    def settlement() -> int:
        from hutong.settlement.service import settle

        return int(settle(settings, store)["entries"])

    def alliances() -> int:
        from hutong.settlement.alliances.poller import poll_all

        return poll_all(store, logistics.sealer, logistics.client)

    def trust() -> int:
        from hutong.live.trust.service import score_all

        with store.transaction() as session:
            return len(score_all(session, utcnow()))

    def retention() -> int:
        from hutong.privacy.service import purge_expired

        return purge_expired(settings, store)

    return [
        Job("outbox", 1.0, lambda: deliver_due(store, client)),
        Job(
            "compaction",
            max(settings.click_segment_seconds / 2, 1.0),
            lambda: compact_all(settings),
        ),
        Job("passcodes", 3600.0, passcodes),
        Job("order_timeouts", 5.0, order_timeouts),
        Job("payment_sync", 5.0, lambda: sync_due(payments)),
        Job("tracking_poll", 60.0, lambda: poll_due(logistics)),
        Job("stale_parcels", 600.0, lambda: flag_stale(logistics)),
        Job("intercepts", 5.0, lambda: intercept_refunded(logistics)),
        Job("unsettled_waybills", 30.0, lambda: ask_unsettled_again(logistics)),
        Job("lake_export", 60.0, lambda: export(store, settings.lake_dir)),
        Job("retention", 3600.0, retention),
        Job("alliances", float(settings.alliance_poll_seconds), alliances),
        Job("settlement", float(settings.settle_every_seconds), settlement),
        Job("trust", float(settings.trust_every_seconds), trust),
    ]


class Worker:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self.payments = build_payments(settings, store)
        self.logistics = build_logistics(settings, store)
        self.jobs = jobs(settings, store, self._client, self.payments, self.logistics)

    def tick(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if now - job.last < job.every:
                continue
            job.last = now
            try:
                job.run()
            except Exception:
                log.exception("job %s failed; it will run again next interval", job.name)

    def run(self) -> None:
        log.info("worker started with jobs: %s", ", ".join(j.name for j in self.jobs))
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(0.2)
        self._client.close()
        self.payments.client.close()
        self.logistics.client.close()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="hutong-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
