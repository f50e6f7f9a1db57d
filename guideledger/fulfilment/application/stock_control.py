"""Stock commands and queries: goods received or counted at a node, and what each node holds.

Stock is kept in the event store the orders are kept in (`store`), so that placing an
order and the stock it reserves are saved in one transaction; these commands run through
that store too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.fulfilment.application.projections import STOCK_AVAILABILITY, StockAvailability
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.units import Node
from guideledger.readmodels.model import ReadModels

log = logging.getLogger("guideledger.fulfilment")

RouteWaitingOrders = Callable[[UUID], object]
"""Routes again the orders of a brand that wait for stock (the orders context does it)."""


@dataclass(frozen=True)
class StockPosition:
    node_id: UUID
    sku_id: UUID
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockControl:
    """Receives and adjusts a node's stock; more stock sends waiting orders to be routed again."""

    def __init__(
        self,
        store: LedgerApplication,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        route_waiting_orders: RouteWaitingOrders,
    ) -> None:
        self.store = store
        self.organisation = organisation
        self.read_models = read_models
        self.route_waiting_orders = route_waiting_orders

    def receive(
        self, command: Command, node_id: UUID, sku_id: UUID, quantity: int, reference: str
    ) -> CommandResult:
        """Goods arrive at a node; orders waiting for stock are routed again afterwards."""

        def decide() -> Decision:
            node = self._node_of(node_id, sku_id)
            now = self.store.clock.now()
            stock = self.store.find(Stock, Stock.create_id(node_id, sku_id)) or Stock.open(
                node_id, sku_id, node.brand_id, now, command.actor
            )
            stock.receive(quantity, reference, now, command.actor)
            return [stock], CommandResult(stock.id, stock.version)

        result = self.store.execute(command, decide)
        self._route_waiting_quietly(self.organisation.fact(Node, node_id, "node_id").brand_id)
        return result

    def adjust(
        self,
        command: Command,
        node_id: UUID,
        sku_id: UUID,
        delta: int,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """A count or a damage corrects the units on hand; a gain routes waiting orders again."""
        node = self._node_of(node_id, sku_id)
        result = self.store.update(
            command,
            Stock,
            Stock.create_id(node_id, sku_id),
            expected_version,
            lambda stock: stock.adjust(delta, reason, self.store.clock.now(), command.actor),
        )
        if delta > 0:
            self._route_waiting_quietly(node.brand_id)
        return result

    def positions(
        self, *, node_id: UUID | None = None, sku_id: UUID | None = None
    ) -> list[StockPosition]:
        """Availability by node or by SKU, from the routing read model."""
        where: dict[str, Any] = {}
        if node_id is not None:
            where["node_id"] = node_id
        if sku_id is not None:
            where["sku_id"] = sku_id
        if not where:
            raise InvalidValue("name a node or a SKU")
        self.read_models.catch_up(StockAvailability)
        return [
            StockPosition(row["node_id"], row["sku_id"], row["on_hand"], row["reserved"])
            for row in self.read_models.select(
                STOCK_AVAILABILITY, where, order_by=("node_id", "sku_id")
            )
        ]

    def _route_waiting_quietly(self, brand_id: UUID) -> None:
        """The stock command already succeeded; a routing failure here must not undo it."""
        try:
            self.route_waiting_orders(brand_id)
        except Exception:
            log.exception("routing waiting orders after a stock change failed")

    def _node_of(self, node_id: UUID, sku_id: UUID) -> Node:
        """The node, refused unless both it and the SKU exist in the same brand."""
        node = self.organisation.fact(Node, node_id, "node_id")
        sku = self.organisation.fact(Sku, sku_id, "sku_id")
        if sku.brand_id != node.brand_id:
            raise RuleViolated("the SKU belongs to another brand than the node")
        return node
