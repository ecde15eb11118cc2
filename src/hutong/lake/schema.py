"""The columns of each event log, in log order, with their Parquet types."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class LogSchema:
    kind: str
    columns: tuple[tuple[str, pa.DataType], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def arrow(self) -> pa.Schema:
        """The file schema; ``day`` is not stored but comes from the ``day=`` directory."""
        return pa.schema([pa.field(name, typ) for name, typ in self.columns])


TS = pa.timestamp("ms", tz="UTC")

CLICKS = LogSchema(
    "clicks",
    (
        ("event_id", pa.string()),
        ("click_id", pa.string()),
        ("ts", TS),
        ("code", pa.string()),
        ("link_id", pa.string()),
        ("campaign_id", pa.string()),
        ("buyer_id", pa.string()),
        ("seller_id", pa.string()),
        ("placement_id", pa.string()),
        ("creative_id", pa.string()),
        ("affiliate_id", pa.string()),
        ("source_platform", pa.string()),
        ("target_platform", pa.string()),
        ("surface", pa.string()),
        ("app_platform", pa.string()),
        ("via", pa.string()),
        ("mode", pa.string()),
        ("allowed", pa.bool_()),
        ("policy_id", pa.string()),
        ("policy_version", pa.int64()),
        ("device", pa.string()),
        ("device_key", pa.string()),
        ("ip_hash", pa.string()),
        ("duplicate", pa.bool_()),
        ("bot", pa.bool_()),
        ("bot_reason", pa.string()),
        ("billable", pa.bool_()),
        ("token_kid", pa.string()),
        ("ua", pa.string()),
        ("referer_host", pa.string()),
        ("params", pa.string()),
    ),
)

IMPRESSIONS = LogSchema(
    "impressions",
    (
        ("event_id", pa.string()),
        ("ts", TS),
        ("received_at", TS),
        ("batch_id", pa.string()),
        ("seller_id", pa.string()),
        ("placement_id", pa.string()),
        ("campaign_id", pa.string()),
        ("creative_id", pa.string()),
        ("link_id", pa.string()),
        ("source_platform", pa.string()),
        ("device", pa.string()),
        ("device_key", pa.string()),
        ("duplicate", pa.bool_()),
        ("bot", pa.bool_()),
        ("bot_reason", pa.string()),
        ("billable", pa.bool_()),
    ),
)

LIVE_EVENTS = LogSchema(
    "live_events",
    (
        ("event_id", pa.string()),
        ("session_id", pa.string()),
        ("ts", TS),
        ("kind", pa.string()),
        ("viewer_key", pa.string()),  # keyed hash of the platform's viewer id
        ("product_ref", pa.string()),
        ("order_ref", pa.string()),
        ("amount_fen", pa.int64()),
        ("received_at", TS),
    ),
)

SCHEMAS = {s.kind: s for s in (CLICKS, IMPRESSIONS, LIVE_EVENTS)}
