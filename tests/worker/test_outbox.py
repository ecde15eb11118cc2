"""Several workers draining one outbox: each message is sent once, none is lost."""

from __future__ import annotations

import concurrent.futures

import httpx
from sqlalchemy import func, select

from hutong.ids import new_id
from hutong.worker.models import OutboxMessage, OutboxStatus
from hutong.worker.outbox import backoff, deliver_due
from tests.api.receiver import Receiver
from tests.conftest import World


def test_concurrent_workers_send_each_message_once(world: World) -> None:
    receiver = Receiver(require_signature=False).start()
    try:
        with world.store.transaction() as session:
            for i in range(60):
                session.add(
                    OutboxMessage(
                        id=new_id("obx"),
                        kind="test",
                        owner_id="t",
                        url=receiver.url,
                        body=f'{{"n": {i}}}',
                        idempotency_key=f"msg-{i}",
                    )
                )

        def drain(_: int) -> int:
            sent = 0
            with httpx.Client(timeout=5) as client:
                while True:
                    n = deliver_due(world.store, client, limit=7)
                    if n == 0:
                        return sent
                    sent += n

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            sent = sum(pool.map(drain, range(4)))
        assert sent == 60  # no message was claimed twice
        assert sorted(receiver.deliveries) == sorted(f"msg-{i}" for i in range(60))
        with world.store.reading() as session:
            delivered = session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.DELIVERED.value)
            )
        assert delivered == 60
    finally:
        receiver.stop()


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 20)]
    assert 4 <= waits[0] <= 6 and 8 <= waits[1] <= 12
    assert max(waits) <= 3600 * 1.2
