"""An acknowledged write is a committed write: the commit happens before the answer is sent."""

from __future__ import annotations

from sqlalchemy.orm import SessionTransaction

from tests.api.market import build_market, ok
from tests.conftest import LiveServer


def test_answer_waits_for_the_commit(server: LiveServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Delay every commit; a write's answer must still only come after its commit."""
    import time

    committed: list[float] = []
    original_commit = SessionTransaction.commit

    def slow_commit(self: SessionTransaction, _to_root: bool = False) -> None:
        time.sleep(0.2)
        original_commit(self, _to_root)
        committed.append(time.monotonic())

    m = build_market(server)
    try:
        monkeypatch.setattr(SessionTransaction, "commit", slow_commit)
        sent = time.monotonic()
        placement = ok(
            m.client("douyin").post(
                "/v1/placements",
                json={"surface": "feed", "name": "f", "pricing_model": "cpc", "price_fen": 5},
            ),
            201,
        )
        answered = time.monotonic()
        assert committed and committed[-1] <= answered and answered - sent >= 0.2
        assert ok(m.client("douyin").get(f"/v1/placements/{placement['id']}"))["id"]
    finally:
        m.close()
