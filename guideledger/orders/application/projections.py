"""The orders' own read models: orders waiting for stock, orders waiting for payment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guideledger.orders.domain import Order
from guideledger.readmodels.model import Delete, Projection, RowChange, Table, Upsert

UNROUTABLE_ORDERS = Table(
    name="unroutable_orders",
    key=("order_id",),
    columns={"order_id": "uuid", "brand_id": "uuid", "reason": "text", "since": "timestamp"},
    indexes=(("brand_id", "since"),),
)


class UnroutableQueue(Projection):
    """Orders waiting for stock, with the reason; they leave when allocated or cancelled."""

    name = "unroutable_orders"
    application = "orders"
    tables = (UNROUTABLE_ORDERS,)
    handles = tuple((Order, name) for name in ("RoutingFailed", "Allocated", "Cancelled"))

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        if type(event).__name__ == "RoutingFailed":
            row = {
                "brand_id": event.brand_id,
                "reason": event.decision.reason,
                "since": event.occurred_at,
            }
            return [Upsert(UNROUTABLE_ORDERS, key, row)]
        return [Delete(UNROUTABLE_ORDERS, key)]


UNPAID_ORDERS = Table(
    name="unpaid_orders",
    key=("order_id",),
    columns={"order_id": "uuid", "payment_due_at": "timestamp"},
)


class UnpaidOrders(Projection):
    """Orders awaiting payment and when their window closes; they leave when paid or cancelled."""

    name = "unpaid_orders"
    application = "orders"
    tables = (UNPAID_ORDERS,)
    handles = tuple((Order, name) for name in ("Placed", "Paid", "Cancelled"))

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        if type(event).__name__ == "Placed":
            return [Upsert(UNPAID_ORDERS, key, {"payment_due_at": event.payment_due_at})]
        return [Delete(UNPAID_ORDERS, key)]
