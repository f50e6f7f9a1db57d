"""Orders waiting for stock: the queue support reads, and routing its orders again once
stock arrives (a stock receipt or a gain triggers it, or support does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.application.projections import UNROUTABLE_ORDERS, UnroutableQueue
from guideledger.orders.domain.order import Order
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.brand import Brand
from guideledger.readmodels.model import ReadModels

ROUTER_ACTOR = "system:router"


@dataclass(frozen=True)
class WaitingOrder:
    order_id: UUID
    reason: str
    since: datetime


class WaitingOrders:
    def __init__(
        self,
        orders: OrderApplication,
        organisation: OrganisationApplication,
        read_models: ReadModels,
    ) -> None:
        self.orders = orders
        self.organisation = organisation
        self.read_models = read_models
        self.personal = PersonalData(organisation.vault)

    def of_brand(self, brand_id: UUID, limit: int = 100, offset: int = 0) -> list[WaitingOrder]:
        self.read_models.catch_up(UnroutableQueue)
        rows = self.read_models.select(
            UNROUTABLE_ORDERS,
            {"brand_id": brand_id},
            order_by=("since",),
            limit=limit,
            offset=offset,
        )
        return [WaitingOrder(row["order_id"], row["reason"], row["since"]) for row in rows]

    def route_again(self, brand_id: UUID) -> list[UUID]:
        """Routes again every order of the brand waiting for stock; returns those now allocated.
        Routing measures from the exact delivery point, or from its area once the member has
        been forgotten."""
        self.read_models.catch_up(UnroutableQueue)
        brand = self.organisation.load(Brand, brand_id)
        allocated: set[UUID] = set()  # a decision re-run after a lost race adds nothing twice
        waiting_orders = self.of_brand(brand_id)
        for waiting in waiting_orders:

            def decide(order_id: UUID = waiting.order_id) -> Decision:
                order = self.orders.load(Order, order_id)
                if not order.awaiting_stock:
                    return [], CommandResult(order.id, order.version)
                now = self.orders.clock.now()
                plan = self.orders.fulfilment.plan(
                    order.id,
                    order.brand_id,
                    order.demands,
                    self.personal.point(order.delivery, self.personal.forgotten(order.member_id)),
                    now,
                    brand.time_zone,
                    ROUTER_ACTOR,
                )
                if not plan.decision.routable:
                    return [], CommandResult(order.id, order.version)
                order.allocate(plan.decision, now, ROUTER_ACTOR)
                allocated.add(order.id)
                return [order, *plan.touched], CommandResult(order.id, order.version)

            self.orders.execute(Command(ROUTER_ACTOR), decide)
        return [w.order_id for w in waiting_orders if w.order_id in allocated]
