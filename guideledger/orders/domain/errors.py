"""What an order refuses, each a rule of its lifecycle."""

from __future__ import annotations

from guideledger.kernel.errors import Conflict, RuleViolated


class OrderError(RuleViolated):
    type = "order-rule-violated"


class WrongPaymentAmount(OrderError):
    type = "wrong-payment-amount"


class WrongUnitPrice(OrderError):
    type = "wrong-unit-price"


class OrderNotPayable(OrderError):
    type = "order-not-payable"


class CannotCancel(OrderError):
    type = "order-cannot-be-cancelled"


class RoutingRefused(OrderError):
    type = "routing-refused"


class AttributionRefused(OrderError):
    type = "attribution-refused"


class ShipmentRefused(OrderError):
    type = "shipment-refused"


class DeliveryRefused(OrderError):
    type = "delivery-refused"


class ReturnRefused(OrderError):
    type = "return-refused"


class RefundRefused(OrderError):
    type = "refund-refused"


class ExchangeRefused(OrderError):
    type = "exchange-refused"


class ExchangePriceDiffers(ExchangeRefused):
    """The replacement sells at another price now: that is a return and a new order."""

    type = "exchange-price-differs"


class OrderAlreadyPaid(OrderNotPayable, Conflict):
    """Paid already, in another of the provider's transactions: the customer paid twice,
    and the second payment is the provider's to give back."""

    type = "order-already-paid"


class TransactionReused(Conflict):
    """The provider reported other facts under a transaction id it had used."""

    type = "payment-transaction-reused"
