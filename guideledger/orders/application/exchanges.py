"""Exchanges (换货): delivered units swapped for another SKU of the same price, with no new
payment, in one transaction: the order records the exchange, the units go back on the
shelf where they were received, and the replacement is routed and reserved by the same
rules as a placed order (or waits for stock in the unroutable queue, and is routed again
when stock arrives, as a waiting order is).

Commission is not touched: no follower of the order's events reacts to an exchange, and
the sale's lines and routing, which commission is computed on, stay as they were sold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.fulfilment.domain.stock import Stock
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.domain.errors import ExchangeRefused
from guideledger.orders.domain.lines import ReplacementSku
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.units import Node


class Exchanges:
    def __init__(self, orders: OrderApplication) -> None:
        self.orders = orders
        self.organisation = orders.organisation
        self.personal = PersonalData(orders.organisation.vault)

    def exchange(
        self,
        command: Command,
        order_id: UUID,
        *,
        exchange_id: str,
        line_no: int,
        quantity: int,
        sku_id: UUID,
        received_at_node_id: UUID,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Swaps `quantity` delivered units of the line for as many of `sku_id`, a SKU of
        the order's brand whose price in force is the line's unit price; the units come
        back to stock at `received_at_node_id`, a node of the brand. It takes its turn with
        the orders reserving the replacement's SKU."""

        def decide() -> Decision:
            order = self.orders.load(Order, order_id, expected_version)
            now = self.orders.clock.now()
            replacement = self._replacement(order, sku_id, now)
            self._require_node_of_brand(order, received_at_node_id)
            order.exchange(
                exchange_id, line_no, quantity, replacement, received_at_node_id, now, command.actor
            )
            routed = self._route_replacements(order, now, command.actor)
            received = self._receive_back(order, exchange_id, routed, now, command.actor)
            return [order, *routed, *received], CommandResult(order.id, order.version)

        return self.orders.execute(command, decide, turn_keys=[sku_id])

    def _replacement(self, order: Order, sku_id: UUID, now: datetime) -> ReplacementSku:
        """The replacement SKU at its price in force now (read afresh: prices change)."""
        sku = self.organisation.reference(Sku, sku_id, "sku_id", for_change=False)
        if sku.brand_id != order.brand_id:
            raise ExchangeRefused("the replacement SKU belongs to another brand")
        return ReplacementSku(sku_id, sku.price_in_force(now))

    def _require_node_of_brand(self, order: Order, node_id: UUID) -> None:
        node = self.organisation.fact(Node, node_id, "received_at_node_id")
        if node.brand_id != order.brand_id:
            raise ExchangeRefused("received_at_node_id names a node of another brand")

    def _receive_back(
        self,
        order: Order,
        exchange_id: str,
        routed: Sequence[Aggregate],
        now: datetime,
        actor: str,
    ) -> list[Stock]:
        """The units that came back go on the receiving node's shelf: its stock of the SKU
        as routing left it if routing reserved there too (then there is nothing more to
        save), else as stored, or opened if the node never held the SKU."""
        exchange = order.exchanges[exchange_id]
        node_id, sku_id = exchange.received_at_node_id, order.line(exchange.line_no).sku_id
        stock_id = Stock.create_id(node_id, sku_id)
        for aggregate in routed:
            if isinstance(aggregate, Stock) and aggregate.id == stock_id:
                aggregate.restock(order.id, exchange.line_no, exchange.quantity, now, actor)
                return []
        stock = self.orders.find(Stock, stock_id)
        stock = stock or Stock.open(node_id, sku_id, order.brand_id, now, actor)
        stock.restock(order.id, exchange.line_no, exchange.quantity, now, actor)
        return [stock]

    def _route_replacements(self, order: Order, now: datetime, actor: str) -> Sequence[Aggregate]:
        """Routes the replacements not yet allocated to the delivery point (its area once
        the member is forgotten): allocated with stock reserved, or waiting for stock."""
        brand = self.organisation.fact(Brand, order.brand_id, "brand_id")
        destination = self.personal.point(order.delivery, self.personal.forgotten(order.member_id))
        plan = self.orders.fulfilment.plan(
            order.id, order.brand_id, order.demands, destination, now, brand.time_zone, actor
        )
        if plan.decision.routable:
            order.allocate(plan.decision, now, actor)
        elif not order.awaiting_stock:
            order.wait_for_stock(plan.decision, now, actor)
        return plan.touched
