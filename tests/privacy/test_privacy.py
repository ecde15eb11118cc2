"""Personal data: keyed hashes, masking, retention and deletion."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from hutong.lake.compact import lake_glob
from hutong.privacy.hashing import KeyedHasher, mask_hash, mask_phone
from hutong.privacy.service import forget, purge_expired
from hutong.traffic.models import Conversion
from hutong.worker.runner import compact_all
from tests.api.market import build_market, ok
from tests.api.test_conversions import _token
from tests.api.test_jump_flow import wait_for
from tests.conftest import LiveServer


def test_keyed_hashes_are_not_bare_hashes() -> None:
    import hashlib

    a, b = KeyedHasher(b"key-a"), KeyedHasher(b"key-b")
    phone = "+86 138-0013-8000"
    assert a.hash("phone", phone) == a.hash("phone", "13800138000")  # normalised
    assert a.hash("phone", phone) != b.hash("phone", phone)  # depends on the secret key
    assert a.hash("phone", phone) != hashlib.sha256(b"13800138000").hexdigest()[:32]
    assert a.hash("phone", phone) != a.hash("device", "13800138000")  # namespaced
    assert mask_phone(phone) == "861****8000" or mask_phone("13800138000") == "138****8000"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_hash("abcdef0123456789") == "abcdef…"


def test_forget_and_retention(server: LiveServer) -> None:
    world = server.world
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        campaign = m.campaign("tmall", [splash])
        now = dt.datetime.now(dt.UTC).isoformat()
        imps = [
            {"placement_id": splash, "ts": now, "device_id": d}
            for d in ("OAID-forget-me", "OAID-keep-me")
        ]
        ok(
            m.client("douyin").post(
                "/v1/impressions", json={"batch_key": "b1", "impressions": imps}
            ),
            202,
        )
        link = m.link("tmall", campaign, splash)
        wait_for(lambda: link["code"] in world.runtime.cache.links)
        ok(
            m.client("tmall").post(
                "/v1/conversions",
                json={
                    "click_token": _token(server, link["code"]),
                    "order_ref": "o-1",
                    "amount_fen": 100,
                    "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                    "buyer_ref": "13800138000",
                },
            ),
            201,
        )
        world.runtime.impressions_log.rotate()
        world.runtime.clicks.rotate()
        time.sleep(0.1)
        compact_all(world.settings)

        removed = forget(world.settings, world.store, "device", "oaid-FORGET-me")
        assert removed["lake_rows"] == 1
        with duckdb.connect() as con:
            keys = [
                r[0]
                for r in con.execute(
                    "SELECT device_key FROM read_parquet(?)",
                    [lake_glob(world.settings.lake_dir, "impressions")],
                ).fetchall()
            ]
        assert keys == [world.runtime.hasher.hash("device", "OAID-keep-me")]
        assert forget(world.settings, world.store, "buyer", "13800138000")["conversions"] == 1
        with world.store.reading() as session:
            assert session.scalar(select(Conversion.buyer_hash)) is None

        # retention: a day older than the retention period loses its personal columns
        assert purge_expired(world.settings, world.store) == 0
        old = replace(world.settings, pii_retention_days=0)
        day_dir = next((world.settings.lake_dir / "clicks").iterdir())
        aged = day_dir.parent / "day=2020-01-01"
        day_dir.rename(aged)
        assert purge_expired(old, world.store) >= 1
        table = pq.read_table(next(aged.glob("*.parquet")))
        assert set(table["ua"].to_pylist()) == {""} and set(table["ip_hash"].to_pylist()) == {""}
        assert table.num_rows >= 1 and isinstance(table, pa.Table)
    finally:
        m.close()
