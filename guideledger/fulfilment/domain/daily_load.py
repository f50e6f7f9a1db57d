"""How many orders a node took on a day, for daily order caps."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.flat_state import FlatState
from guideledger.kernel.values import natural_id, require_utc


class NodeAtCapacity(RuleViolated):
    type = "node-at-capacity"


class NodeDailyLoad(FlatState, Aggregate):
    """How many orders a node took on one day in the brand's time zone (for daily caps)."""

    @staticmethod
    def create_id(node_id: UUID, day: str) -> UUID:
        """`day` is the ISO date in the brand's time zone."""
        return natural_id("node-daily-load", node_id, day)

    class Opened(Aggregate.Created):
        node_id: UUID
        day: str

    @event(Opened)
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

    class OrderTaken(Aggregate.Event):
        order_id: UUID
        occurred_at: datetime
        actor: str

    @event(OrderTaken)
    def _record_taken(self, order_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.order_ids.add(order_id)
