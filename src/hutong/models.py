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
from hutong.live.models import LiveSession, Penalty, PenaltyEvent, SessionProduct, Streamer
from hutong.live.trust.models import (
    LinkedAccount,
    TrustAlert,
    TrustFlag,
    TrustPolicy,
    TrustScore,
    TrustSignal,
)
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
from hutong.settlement.models import (
    AllianceAccount,
    AllianceOrder,
    AlliancePosition,
    Charge,
    Commission,
    CommissionRate,
    JournalEntry,
    JournalLine,
    PayeeHold,
    Period,
)
from hutong.store import Base
from hutong.tenants.models import ApiKey, Tenant
from hutong.traffic.adplatforms.models import AdClick, AdConversion, AdGateway
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
    "AdClick",
    "AdConversion",
    "AdGateway",
    "AfterSale",
    "AllianceAccount",
    "AllianceOrder",
    "AlliancePosition",
    "ApiKey",
    "AttributionRun",
    "Campaign",
    "CampaignPlacement",
    "CarrierAccount",
    "CarrierRule",
    "ChangeFeed",
    "Charge",
    "Commission",
    "CommissionRate",
    "Conversion",
    "Creative",
    "IdempotencyRecord",
    "ImpressionBatch",
    "InteropRule",
    "JournalEntry",
    "JournalLine",
    "LakeWatermark",
    "Link",
    "LinkPolicy",
    "LinkedAccount",
    "LiveSession",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "Passcode",
    "PayeeHold",
    "Payment",
    "PaymentNotice",
    "Penalty",
    "PenaltyEvent",
    "Period",
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
    "SessionProduct",
    "Shipment",
    "Sku",
    "Streamer",
    "Tenant",
    "TrackingEvent",
    "TrustAlert",
    "TrustFlag",
    "TrustPolicy",
    "TrustScore",
    "TrustSignal",
    "metadata",
]
