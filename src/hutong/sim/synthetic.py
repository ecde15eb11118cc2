"""Synthetic Double 11 histories written straight to the lake (``hutong simulate``, and the
attribution benchmark): clicks in the lake's own format (day-partitioned Parquet, as
compaction writes it) and orders as the store export writes them, plus the same data as bare
tables for the benchmark's baselines and the campaigns' terms as the journeys read them.

Large histories cannot come through the API in reasonable time (the demo does that at its own
scale); this writes tens of millions of rows in seconds, for benchmarks and reports.

The mix the issue names: 60% of orders carry a click token, 25% a device id only, 15% a buyer
hash only (the buyer's device is known from another order); 5% of clicks are duplicates and 3%
bots. Ids and keys have the lengths hutong's own have (24-character ids, 32-hex device keys).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hutong.attribution.journeys import CAMPAIGNS, DAY_MS
from hutong.lake.export import EXPORTS

ALPHABET = np.frombuffer(b"0123456789abcdefghjkmnpqrstvwxyz", dtype="S1")
HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
START = dt.datetime(2024, 10, 31, 16, 0, tzinfo=dt.UTC)  # 2024-11-01 00:00 in Shanghai
START_MS = int(START.timestamp() * 1000)
DAYS = 12
CAMPAIGN_COUNT = 50
SHANGHAI_MS = 8 * 3_600_000


def random_strings(
    rng: np.random.Generator, prefix: bytes, n: int, width: int, alphabet: np.ndarray
) -> pa.Array:
    """``n`` strings of ``prefix`` plus ``width`` random characters, built as one byte matrix."""
    body = alphabet[rng.integers(0, len(alphabet), size=(n, width), dtype=np.uint8)]
    matrix = np.empty((n, len(prefix) + width), dtype="S1")
    matrix[:, : len(prefix)] = np.frombuffer(prefix, dtype="S1")
    matrix[:, len(prefix) :] = body
    fixed = matrix.view(f"S{len(prefix) + width}").ravel()
    return pa.array(fixed, type=pa.binary(len(prefix) + width)).cast(pa.binary()).cast(pa.string())


@dataclass
class Generated:
    lake: Path
    bare: Path
    campaigns: pa.Table
    clicks: int
    orders: int


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype("datetime64[ms]"), type=pa.timestamp("ms")).cast(
        pa.timestamp("ms", tz="UTC")
    )


def _write_days(
    table: pa.Table, root: Path, ms_column: np.ndarray, shuffled: bool, rng: np.random.Generator
) -> None:
    """One file per Asia/Shanghai day, as compaction writes them; rows in time order, or not."""
    days = (ms_column + SHANGHAI_MS) // DAY_MS
    order = rng.permutation(len(days)) if shuffled else np.argsort(ms_column, kind="stable")
    table, days = table.take(pa.array(order)), days[order]
    for day in np.unique(days):
        name = (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()
        part = root / f"day={name}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.filter(pa.array(days == day)), part / "part-0.parquet", compression="zstd"
        )


def generate(
    root: Path, clicks: int, orders: int, seed: int = 11, shuffled: bool = False
) -> Generated:
    rng = np.random.default_rng(seed)
    devices = max(clicks // 5, 10)
    device_keys = random_strings(rng, b"", devices, 32, HEX)
    campaign_ids = random_strings(rng, b"cmp_", CAMPAIGN_COUNT, 20, ALPHABET)
    placement_ids = random_strings(rng, b"plc_", CAMPAIGN_COUNT * 4, 20, ALPHABET)
    sellers = pa.array(
        ["tnt_douyin0000000000000", "tnt_kuaishou00000000000", "tnt_bilibili00000000000"]
    )

    # clicks: five per device on average, times over the twelve days
    click_device = rng.integers(0, devices, clicks)
    click_ms = START_MS + rng.integers(0, DAYS * DAY_MS, clicks)
    click_campaign = rng.integers(0, CAMPAIGN_COUNT, clicks)
    event_ids = random_strings(rng, b"clk_", clicks, 20, ALPHABET)
    duplicate = rng.random(clicks) < 0.05
    bot = rng.random(clicks) < 0.03
    click_table = pa.table(
        {
            "event_id": event_ids,
            "ts": _ts(click_ms),
            "campaign_id": campaign_ids.take(pa.array(click_campaign)),
            "seller_id": sellers.take(pa.array(click_campaign % 3)),
            "placement_id": placement_ids.take(
                pa.array(click_campaign * 4 + rng.integers(0, 4, clicks))
            ),
            "creative_id": pa.nulls(clicks, pa.string()),
            "affiliate_id": pa.nulls(clicks, pa.string()),
            "source_platform": pa.array(
                np.array(["douyin", "kuaishou", "bilibili"])[click_campaign % 3]
            ),
            "target_platform": pa.array(["taobao"] * clicks),
            "device_key": device_keys.take(pa.array(click_device)),
            "duplicate": pa.array(duplicate),
            "bot": pa.array(bot),
            "billable": pa.array(~duplicate & ~bot),
        }
    )

    # orders: each starts from a click (its device, its time) and is placed 0-5 days later
    n_token, n_device = int(orders * 0.60), int(orders * 0.25)
    n_buyer = orders - n_token - n_device
    seed_click = rng.integers(0, clicks, orders)
    placed_ms = click_ms[seed_click] + rng.integers(60_000, 5 * DAY_MS, orders)
    order_device = click_device[seed_click].copy()
    buyer = rng.integers(0, max(orders // 2, 1), orders)
    kind = np.repeat(np.array([0, 1, 2]), [n_token, n_device, n_buyer])
    rng.shuffle(kind)
    token_rows = np.flatnonzero(kind == 0)
    buyer_rows = np.flatnonzero(kind == 2)
    # a buyer-hash-only order is placed by a buyer whose device a token order revealed
    donors = rng.choice(token_rows, size=len(buyer_rows))
    buyer[buyer_rows] = buyer[donors]
    order_device[buyer_rows] = order_device[donors]
    buyer_hashes = random_strings(rng, b"", max(orders // 2, 1), 32, HEX)
    null_str = pa.nulls(orders, pa.string())
    click_id = pc.if_else(pa.array(kind == 0), event_ids.take(pa.array(seed_click)), null_str)
    device_hash = pc.if_else(
        pa.array(kind == 1), device_keys.take(pa.array(order_device)), null_str
    )
    paid_fen = rng.integers(990, 99_900, orders)
    spec = next(e for e in EXPORTS if e.kind == "orders")
    names = [n for n, _, _ in spec.columns]
    placed = _ts(placed_ms)
    columns = {
        "id": random_strings(rng, b"ord_", orders, 20, ALPHABET),
        "seller_id": pa.array(["tnt_tmall00000000000000"] * orders),
        "platform_id": pa.array(["taobao"] * orders),
        "state": pa.array(["paid"] * orders),
        "currency": pa.array(["CNY"] * orders),
        "total_fen": pa.array(paid_fen),
        "deposit_fen": pa.array(np.zeros(orders, np.int64)),
        "paid_fen": pa.array(paid_fen),
        "refunded_fen": pa.array(np.zeros(orders, np.int64)),
        "presale": pa.array(np.zeros(orders, bool)),
        "click_id": click_id,
        "click_bot": pa.array(np.zeros(orders, bool)),
        "link_id": null_str,
        "campaign_id": null_str,
        "buyer_hash": buyer_hashes.take(pa.array(buyer)),
        "device_hash": device_hash,
        "region": null_str,
        "created_at": placed,
        "paid_at": _ts(placed_ms + 30_000),
        "completed_at": pa.nulls(orders, pa.timestamp("ms", tz="UTC")),
        "updated_at": _ts(placed_ms + 30_000),
    }
    order_table = pa.table({n: columns[n] for n in names})
    lake = root / "lake"
    _write_days(click_table, lake / "clicks", click_ms, shuffled, rng)
    _write_days(order_table, lake / "orders", placed_ms + 30_000, shuffled, rng)

    # the baselines' bare tables: the order's device already resolved, nothing else to decide
    bare = root / "bare"
    bare.mkdir(parents=True, exist_ok=True)
    keep = pa.array(~duplicate & ~bot)
    bare_clicks = pa.table(
        {"device": click_table["device_key"], "ts": click_ms, "event_id": event_ids}
    ).filter(keep)
    bare_orders = pa.table(
        {
            "device": device_keys.take(pa.array(order_device)),
            "ts": placed_ms,
            "order_id": order_table["id"],
        }
    )
    if shuffled:
        bare_clicks = bare_clicks.take(pa.array(rng.permutation(bare_clicks.num_rows)))
        bare_orders = bare_orders.take(pa.array(rng.permutation(orders)))
    else:
        bare_clicks = bare_clicks.sort_by("ts")
        bare_orders = bare_orders.sort_by("ts")
    pq.write_table(bare_clicks, bare / "clicks.parquet")
    pq.write_table(bare_orders, bare / "orders.parquet")
    campaigns = pa.table(
        {
            "campaign_id": campaign_ids,
            "merchant_id": pa.array([""] * CAMPAIGN_COUNT),
            "platform_id": pa.array(["taobao"] * CAMPAIGN_COUNT),
            "click_window_ms": pa.array([7 * DAY_MS] * CAMPAIGN_COUNT),
            "view_window_ms": pa.array([DAY_MS] * CAMPAIGN_COUNT),
            "model": pa.array(["last_click"] * CAMPAIGN_COUNT),
        },
        schema=CAMPAIGNS,
    )
    pq.write_table(campaigns, root / "campaigns.parquet")
    return Generated(lake, bare, campaigns, clicks, orders)
