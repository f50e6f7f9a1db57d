"""Aggregates that routing consults besides stock: the brand's policy book and node load."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolated
from domain.routing import DEFAULT_ROUTING_POLICY, RoutingPolicy
from domain.values import natural_id, require_utc


class NodeAtCapacity(RuleViolated):
    type = "node-at-capacity"


class RoutingPolicyBook(Aggregate):
    """Every routing policy version a brand has published, each with its effective date."""

    @staticmethod
    def create_id(brand_id: UUID) -> UUID:
        return natural_id("routing-policy-book", brand_id)

    @event("Opened")
    def __init__(self, brand_id: UUID) -> None:
        self.brand_id = brand_id
        self.policies: list[RoutingPolicy] = []

    def in_force(self, at: datetime) -> RoutingPolicy:
        """The latest version effective at `at`; the built-in default before any."""
        effective = [p for p in self.policies if p.effective_from <= at]
        return effective[-1] if effective else DEFAULT_ROUTING_POLICY

    def publish(self, draft: RoutingPolicy, occurred_at: datetime, actor: str) -> RoutingPolicy:
        """Adds the next version; it may take effect now or later, never in the past."""
        occurred_at = require_utc(occurred_at)
        effective_from = require_utc(draft.effective_from)
        if effective_from < occurred_at:
            raise RuleViolated("a policy cannot take effect in the past")
        if self.policies and effective_from < self.policies[-1].effective_from:
            raise RuleViolated("a new version cannot take effect before the latest one")
        policy = replace(draft, version=len(self.policies) + 1)
        self._record_published(policy, occurred_at, actor)
        return policy

    @event("Published")
    def _record_published(self, policy: RoutingPolicy, occurred_at: datetime, actor: str) -> None:
        self.policies.append(policy)


class NodeDailyLoad(Aggregate):
    """How many orders a node took on one day in the brand's time zone (for daily caps)."""

    @staticmethod
    def create_id(node_id: UUID, day: str) -> UUID:
        """`day` is the ISO date in the brand's time zone."""
        return natural_id("node-daily-load", node_id, day)

    @event("Opened")
    def __init__(self, node_id: UUID, day: str) -> None:
        self.node_id = node_id
        self.day = day
        self.order_ids: set[UUID] = set()

    @property
    def count(self) -> int:
        return len(self.order_ids)

    def take(self, order_id: UUID, cap: int, occurred_at: datetime, actor: str) -> None:
        if order_id in self.order_ids:
            return
        if self.count >= cap:
            raise NodeAtCapacity("the node reached its daily order cap", node_id=str(self.node_id))
        self._record_taken(order_id, require_utc(occurred_at), actor)

    @event("OrderTaken")
    def _record_taken(self, order_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.order_ids.add(order_id)
