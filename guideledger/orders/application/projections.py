"""The orders' own read models: orders waiting for stock, orders waiting for payment."""

from __future__ import annotations

from guideledger.orders.domain.order import Order
from guideledger.readmodels.model import Delete, Projection, RowChange, Table, Upsert, on

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

    @on(Order.RoutingFailed)
    def waiting(self, event: Order.RoutingFailed) -> list[RowChange]:
        reason = event.decision.reason
        row = {"brand_id": event.brand_id, "reason": reason, "since": event.occurred_at}
        return [Upsert(UNROUTABLE_ORDERS, (event.originator_id,), row)]

    @on(Order.Allocated, Order.Cancelled)
    def done(self, event: Order.Allocated | Order.Cancelled) -> list[RowChange]:
        return [Delete(UNROUTABLE_ORDERS, (event.originator_id,))]


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

    @on(Order.Placed)
    def placed(self, event: Order.Placed) -> list[RowChange]:
        row = {"payment_due_at": event.payment_due_at}
        return [Upsert(UNPAID_ORDERS, (event.originator_id,), row)]

    @on(Order.Paid, Order.Cancelled)
    def done(self, event: Order.Paid | Order.Cancelled) -> list[RowChange]:
        return [Delete(UNPAID_ORDERS, (event.originator_id,))]
