"""Error codes of payments."""

from __future__ import annotations

from hutong.errors import Conflict, InvalidInput, NotFound


class UnknownProvider(NotFound):
    code = "provider_not_found"


class NoProviderAccount(InvalidInput):
    code = "no_provider_account"
    title = "The seller has no active account with this provider"


class ProviderDeclined(Conflict):
    code = "provider_declined"
    title = "The payment provider declined the request"


class RefundTooLarge(Conflict):
    code = "refund_exceeds_paid"
    title = "The refund exceeds what was paid and not yet refunded"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
