"""Imports every capability's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from hutong.api.models import IdempotencyRecord
from hutong.attribution.models import AttributionRun
from hutong.commerce.models import (
    AfterSale,
    InteropRule,
    Order,
    OrderEvent,
    OrderLine,
    PlatformTerms,
    Product,
    Sku,
)
from hutong.lake.export import LakeWatermark
from hutong.logistics.models import (
    CarrierAccount,
    CarrierRule,
    PlatformAccount,
    Shipment,
    TrackingEvent,
)
from hutong.payments.models import (
    Payment,
    PaymentNotice,
    ProviderAccount,
    Reconciliation,
    Refund,
    SeenNonce,
)
from hutong.store import Base
from hutong.tenants.models import ApiKey, Tenant
from hutong.traffic.models import (
    Campaign,
    CampaignPlacement,
    ChangeFeed,
    Conversion,
    Creative,
    ImpressionBatch,
    Link,
    LinkPolicy,
    Passcode,
    Placement,
    Platform,
    PostbackEndpoint,
)
from hutong.worker.models import OutboxMessage

metadata = Base.metadata

__all__ = [
    "AfterSale",
    "ApiKey",
    "AttributionRun",
    "Campaign",
    "CampaignPlacement",
    "CarrierAccount",
    "CarrierRule",
    "ChangeFeed",
    "Conversion",
    "Creative",
    "IdempotencyRecord",
    "ImpressionBatch",
    "InteropRule",
    "LakeWatermark",
    "Link",
    "LinkPolicy",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "Passcode",
    "Payment",
    "PaymentNotice",
    "Placement",
    "Platform",
    "PlatformAccount",
    "PlatformTerms",
    "PostbackEndpoint",
    "Product",
    "ProviderAccount",
    "Reconciliation",
    "Refund",
    "SeenNonce",
    "Shipment",
    "Sku",
    "Tenant",
    "TrackingEvent",
    "metadata",
]
