"""Turns an order into a routing decision and the reservations that go with it.

Candidates come from the routing view this process keeps in memory (fast); the stock
aggregates stay the source of truth. When a reservation finds less stock than the view
said (another process took it a moment ago), the true figure replaces the view's and the
order is routed again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from guideledger.eventstore.repository import LedgerRepository, find
from guideledger.fulfilment.application.routing_view import RoutingView
from guideledger.fulfilment.domain.daily_load import NodeAtCapacity, NodeDailyLoad
from guideledger.fulfilment.domain.routing import (
    DEFAULT_ROUTING_POLICY,
    LineDemand,
    NodeCandidate,
    RoutingDecision,
    RoutingPolicy,
    route,
)
from guideledger.fulfilment.domain.stock import InsufficientStock, Stock
from guideledger.kernel.periods import local_day
from guideledger.kernel.privacy import area_of
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.application.policy_books import policy_in_force
from guideledger.organisation.domain.units import NodeKind

MAX_ROUTING_ROUNDS = 5
ROUTING = "routing"  # the policy book's kind
_CAPPED = UUID(int=0)  # in `truth`: (node, _CAPPED) marks a node found at its daily cap
_A = TypeVar("_A", bound=Aggregate)


@dataclass
class Plan:
    """A decision and the aggregates it changed (reservations, daily loads), to save together."""

    decision: RoutingDecision
    touched: list[Aggregate] = field(default_factory=list)


class Fulfilment:
    """Routing and reservation on behalf of the order application."""

    def __init__(self, repository: LedgerRepository, view: RoutingView) -> None:
        self.repository = repository
        self.view = view

    def policy_in_force(self, brand_id: UUID, at: datetime) -> RoutingPolicy:
        return policy_in_force(self.repository, brand_id, ROUTING, at, DEFAULT_ROUTING_POLICY)

    def dry_run(
        self,
        brand_id: UUID,
        lines: Sequence[LineDemand],
        destination: GeoPoint,
        at: datetime,
        time_zone: str,
    ) -> RoutingDecision:
        """What routing would decide now, reserving nothing."""
        candidates = self.candidates(brand_id, lines, at, time_zone, {})
        return route(lines, destination, candidates, self.policy_in_force(brand_id, at))

    def plan(
        self,
        order_id: UUID,
        brand_id: UUID,
        lines: Sequence[LineDemand],
        destination: GeoPoint,
        at: datetime,
        time_zone: str,
        actor: str,
        first_candidates: list[NodeCandidate] | None = None,
    ) -> Plan:
        """Routes and reserves; `first_candidates`, read a moment ago, spare the first
        round a read of the routing view. The decision, recorded with the order, reports
        distances from the destination's area."""
        policy = self.policy_in_force(brand_id, at)
        truth: dict[tuple[UUID, UUID], int] = {}  # (node, sku) -> available per the aggregate
        for round_no in range(MAX_ROUTING_ROUNDS):
            if round_no == 0 and first_candidates is not None:
                candidates = first_candidates
            else:
                candidates = self.candidates(brand_id, lines, at, time_zone, truth)
            decision = route(lines, destination, candidates, policy, area_of(destination))
            if not decision.routable:
                return Plan(decision)
            try:
                caps = {c.node_id: c.daily_order_cap for c in candidates}
                reserved = self._reserve(order_id, decision, caps, at, time_zone, actor)
                return Plan(decision, reserved)
            except InsufficientStock as short:
                node_id, sku_id = (
                    UUID(short.extensions["node_id"]),
                    UUID(short.extensions["sku_id"]),
                )
                truth[(node_id, sku_id)] = short.extensions["available"]
            except NodeAtCapacity as full:
                truth[(UUID(full.extensions["node_id"]), _CAPPED)] = 0
        return Plan(route(lines, destination, [], policy))

    def candidates(
        self,
        brand_id: UUID,
        lines: Sequence[LineDemand],
        at: datetime,
        time_zone: str,
        truth: dict[tuple[UUID, UUID], int],
    ) -> list[NodeCandidate]:
        available: dict[UUID, dict[UUID, int]] = defaultdict(dict)
        for row in self.view.available(brand_id, [line.sku_id for line in lines]):
            node_id, sku_id = row["node_id"], row["sku_id"]
            units = truth.get((node_id, sku_id), row["on_hand"] - row["reserved"])
            if units > 0:
                available[node_id][sku_id] = units
        if not available:
            return []
        nodes = sorted(self.view.nodes_of(list(available)), key=lambda node: node["node_id"])
        loads = self._loads(
            [n["node_id"] for n in nodes if n["daily_order_cap"] is not None], at, time_zone
        )
        candidates = []
        for node in nodes:
            node_id, cap = node["node_id"], node["daily_order_cap"]
            at_cap = (node_id, _CAPPED) in truth or (
                cap is not None and loads.get(node_id, 0) >= cap
            )
            candidates.append(
                NodeCandidate(
                    node_id=node_id,
                    kind=NodeKind(node["kind"]),
                    branch_id=node["branch_id"],
                    location=GeoPoint(node["latitude"], node["longitude"]),
                    available=available[node_id],
                    paused=node["paused"],
                    at_daily_cap=at_cap,
                    daily_order_cap=cap,
                )
            )
        return candidates

    def _reserve(
        self,
        order_id: UUID,
        decision: RoutingDecision,
        caps: dict[UUID, int | None],
        at: datetime,
        time_zone: str,
        actor: str,
    ) -> list[Aggregate]:
        touched: list[Aggregate] = []
        for allocation in decision.allocations:
            for line in allocation.lines:
                stock = self.get(Stock, Stock.create_id(allocation.node_id, line.sku_id))
                assert stock is not None, "the read model only lists opened stock"
                stock.reserve(order_id, line.line_no, line.quantity, at, actor)
                touched.append(stock)
            cap = caps.get(allocation.node_id)
            if cap is not None:
                day = local_day(at, time_zone)
                load_id = NodeDailyLoad.create_id(allocation.node_id, day)
                load = self.get(NodeDailyLoad, load_id) or NodeDailyLoad(allocation.node_id, day)
                load.take(order_id, cap, at, actor)
                touched.append(load)
        return touched

    def _loads(self, node_ids: Sequence[UUID], at: datetime, time_zone: str) -> dict[UUID, int]:
        """The orders each node took on the day of `at`, as far as the routing view has seen
        (a load it has not seen yet refuses the order when routing reserves, and the node
        is passed over then)."""
        if not node_ids:
            return {}
        day = local_day(at, time_zone)
        node_of = {NodeDailyLoad.create_id(node_id, day): node_id for node_id in node_ids}
        taken = self.view.orders_taken(list(node_of))
        return {node_of[load_id]: orders for load_id, orders in taken.items()}

    def get(self, cls: type[_A], aggregate_id: UUID) -> _A | None:
        return find(self.repository, cls, aggregate_id)
