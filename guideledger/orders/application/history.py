"""An order's past, for support: every fact in its life, the order as it stood at an
instant, and what its reservations did to the stock of the nodes that held them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import cast
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.domain import DomainEventProtocol

from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.errors import NotFound
from guideledger.kernel.values import require_utc
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.domain.order import Order
from guideledger.readmodels.history import Fact, HistoryEntry, history_entry

STOCK_MOVES = (Stock.Reserved, Stock.Released, Stock.Committed, Stock.Restocked)
StockMove = Stock.Reserved | Stock.Released | Stock.Committed | Stock.Restocked


class OrderHistory:
    def __init__(self, orders: OrderApplication) -> None:
        self.orders = orders
        self.personal = PersonalData(orders.organisation.vault)

    def entries(self, order_id: UUID) -> list[HistoryEntry]:
        """Every fact of the order, its member's personal data as `PersonalData` shows it."""
        events = self._order_events(order_id)
        placed = cast(Order.Placed, events[0])
        forgotten = self.personal.forgotten(placed.member_id)
        return [
            replace(entry, data=self.personal.facts(entry.event, entry.data, forgotten))
            for entry in map(history_entry, events)
        ]

    def as_of(self, order_id: UUID, instant: datetime) -> Order:
        """The order as it stood at `instant`, folded from the events that had occurred."""
        instant = require_utc(instant)
        events = [e for e in self._order_events(order_id) if e.occurred_at <= instant]
        if not events:
            raise NotFound(
                f"order {order_id} had not been placed at {instant.isoformat()}",
                id=str(order_id),
            )
        order = project_aggregate(None, cast("list[DomainEventProtocol[UUID]]", events))
        assert isinstance(order, Order)
        return order

    def stock_facts(self, order_id: UUID) -> list[StockMove]:
        """The stock events of the order (reserved, shipped, released, restocked) at every
        node allocated to ship its lines or replacements, and at every node an exchange's
        units came back to, node by node."""
        order = self.orders.get_order(order_id)
        stock_ids = {
            Stock.create_id(allocation.node_id, line.sku_id)
            for allocation in (*order.allocations, *order.replacement_allocations)
            for line in allocation.lines
        }
        stock_ids.update(
            Stock.create_id(exchange.received_at_node_id, order.line(exchange.line_no).sku_id)
            for exchange in order.exchanges.values()
        )
        return [
            event
            for stock_id in sorted(stock_ids)
            for event in self.orders.events.get(stock_id)
            if isinstance(event, STOCK_MOVES) and event.order_id == order_id
        ]

    def _order_events(self, order_id: UUID) -> list[Fact]:
        events = list(self.orders.events.get(order_id))
        if not events or not isinstance(events[0], Order.Placed):
            raise NotFound(f"no order {order_id}", id=str(order_id))
        return cast("list[Fact]", events)
