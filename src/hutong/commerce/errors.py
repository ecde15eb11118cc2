"""Error codes of commerce (kept in one interpreted module, like every capability's)."""

from __future__ import annotations

from hutong.errors import Conflict, InvalidInput, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"


class SkuNotFound(NotFound):
    code = "sku_not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class NotAccepted(InvalidInput):
    """The platform does not accept this payment provider or carrier at the order's time."""

    code = "not_accepted_by_platform"
    title = "Not accepted by the platform at the order's time"


class ClickTokenNotYours(InvalidInput):
    code = "click_token_not_yours"
    title = "The click token is for another buyer's campaign"


class OutsidePaymentWindow(Conflict):
    code = "outside_payment_window"
    title = "Not payable now"
