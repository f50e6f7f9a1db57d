"""Stock of one SKU at one node: the unit that routing reserves from.

on hand   = received + adjustments - committed (shipped) + restocked (returned)
available = on hand - reserved, never negative

Reservations are held per order line, so reserving or releasing the same line
twice changes nothing: a retried command cannot double-reserve. A stock keeps
nothing of the lines it shipped: a hot SKU ships tens of thousands of lines a
month, and every reservation reads the stock. The order knows what each node
shipped and says where returned units go back. Its history still grows, so the
order application snapshots a stock every 100 events.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.flat_state import FlatState
from guideledger.kernel.values import natural_id, require_positive, require_text, require_utc


def reservation_key(order_id: UUID, line_no: int) -> str:
    """An order line's key among a stock's reservations (text, so a snapshot can hold it)."""
    return f"{order_id}:{line_no}"


class StockError(RuleViolated):
    type = "stock-rule-violated"


class InsufficientStock(StockError):
    type = "insufficient-stock"


class Stock(FlatState, Aggregate):
    @staticmethod
    def create_id(node_id: UUID, sku_id: UUID) -> UUID:
        return natural_id("stock", node_id, sku_id)

    @classmethod
    def open(
        cls, node_id: UUID, sku_id: UUID, brand_id: UUID, occurred_at: datetime, actor: str
    ) -> Stock:
        """An empty stock position; the first receipt follows in the same save."""
        return cls(node_id, sku_id, brand_id, require_utc(occurred_at), actor)

    class Opened(Aggregate.Created):
        node_id: UUID
        sku_id: UUID
        brand_id: UUID
        occurred_at: datetime
        actor: str

    @event(Opened)
    def __init__(
        self, node_id: UUID, sku_id: UUID, brand_id: UUID, occurred_at: datetime, actor: str
    ) -> None:
        self.node_id = node_id
        self.sku_id = sku_id
        self.brand_id = brand_id
        self.on_hand = 0
        self.reservations: dict[str, int] = {}

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def reservation(self, order_id: UUID, line_no: int) -> int:
        return self.reservations.get(reservation_key(order_id, line_no), 0)

    # --- inbound and corrections ------------------------------------------------

    def receive(self, quantity: int, reference: str, occurred_at: datetime, actor: str) -> None:
        require_positive("quantity", quantity)
        self._record_received(
            quantity, require_text("reference", reference, 100), require_utc(occurred_at), actor
        )

    class Received(Aggregate.Event):
        quantity: int
        reference: str
        occurred_at: datetime
        actor: str

    @event(Received)
    def _record_received(
        self, quantity: int, reference: str, occurred_at: datetime, actor: str
    ) -> None:
        self.on_hand += quantity

    def adjust(self, delta: int, reason: str, occurred_at: datetime, actor: str) -> None:
        """A stock count correction; never below what is reserved."""
        if delta == 0:
            raise InvalidValue("an adjustment must change the quantity")
        if self.on_hand + delta < self.reserved:
            raise StockError(
                "cannot adjust below the reserved quantity",
                on_hand=self.on_hand,
                reserved=self.reserved,
                delta=delta,
            )
        self._record_adjusted(
            delta, require_text("reason", reason, 500), require_utc(occurred_at), actor
        )

    class Adjusted(Aggregate.Event):
        delta: int
        reason: str
        occurred_at: datetime
        actor: str

    @event(Adjusted)
    def _record_adjusted(self, delta: int, reason: str, occurred_at: datetime, actor: str) -> None:
        self.on_hand += delta

    # --- the order's side ------------------------------------------------------------

    def reserve(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        """Holds `quantity` for one order line; the same reservation again is a no-op."""
        require_positive("quantity", quantity)
        held = self.reservation(order_id, line_no)
        if held == quantity:
            return
        if held:
            raise StockError("the line already holds another quantity here", held=held)
        if quantity > self.available:
            raise InsufficientStock(
                "not enough available stock",
                node_id=str(self.node_id),
                sku_id=str(self.sku_id),
                available=self.available,
                quantity=quantity,
            )
        self._record_reserved(order_id, line_no, quantity, require_utc(occurred_at), actor)

    class Reserved(Aggregate.Event):
        order_id: UUID
        line_no: int
        quantity: int
        occurred_at: datetime
        actor: str

    @event(Reserved)
    def _record_reserved(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        self.reservations[reservation_key(order_id, line_no)] = quantity

    def release(self, order_id: UUID, line_no: int, occurred_at: datetime, actor: str) -> None:
        """Frees what the line still holds here; nothing held is a no-op."""
        held = self.reservation(order_id, line_no)
        if held:
            self._record_released(order_id, line_no, held, require_utc(occurred_at), actor)

    class Released(Aggregate.Event):
        order_id: UUID
        line_no: int
        quantity: int
        occurred_at: datetime
        actor: str

    @event(Released)
    def _record_released(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        del self.reservations[reservation_key(order_id, line_no)]

    def commit(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        """The reserved units left on a shipment: off the shelf for good."""
        require_positive("quantity", quantity)
        held = self.reservation(order_id, line_no)
        if quantity > held:
            raise StockError("cannot ship more than the line reserved here", held=held)
        self._record_committed(order_id, line_no, quantity, require_utc(occurred_at), actor)

    class Committed(Aggregate.Event):
        order_id: UUID
        line_no: int
        quantity: int
        occurred_at: datetime
        actor: str

    @event(Committed)
    def _record_committed(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        key = reservation_key(order_id, line_no)
        self.reservations[key] -= quantity
        if not self.reservations[key]:
            del self.reservations[key]
        self.on_hand -= quantity

    def restock(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        """Returned units go back on the shelf; the order says how many come back here
        (`Order.restock_of`: never more than this node shipped of the line)."""
        require_positive("quantity", quantity)
        self._record_restocked(order_id, line_no, quantity, require_utc(occurred_at), actor)

    class Restocked(Aggregate.Event):
        order_id: UUID
        line_no: int
        quantity: int
        occurred_at: datetime
        actor: str

    @event(Restocked)
    def _record_restocked(
        self, order_id: UUID, line_no: int, quantity: int, occurred_at: datetime, actor: str
    ) -> None:
        self.on_hand += quantity
