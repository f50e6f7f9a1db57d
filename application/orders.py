"""The order context: the order lifecycle, its history, and the payment-window sweep."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID, uuid4

from eventsourcing.application import project_aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic

from application.framework import (
    Clock,
    Command,
    CommandResult,
    Decision,
    LedgerApplication,
)
from application.organisation import OrganisationApplication
from domain.catalogue import Sku
from domain.errors import NotFound, RuleViolated
from domain.members import Member
from domain.orders import (
    AttributionEvidence,
    CannotCancel,
    DeliveryAddress,
    Order,
    OrderLine,
)
from domain.organisation import Brand, Guide, Node, NodeKind
from domain.values import Fen, GeoPoint, natural_id, require_utc

DEFAULT_PAYMENT_WINDOW = timedelta(minutes=30)
SYSTEM_ACTOR = "system:payment-window"
_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}


@dataclass(frozen=True)
class LineRequest:
    """A line as the frontend sends it; numbered by position."""

    sku_id: UUID
    quantity: int
    unit_price_fen: Fen


@dataclass(frozen=True)
class HistoryEntry:
    """One fact in an order's life, for support."""

    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]


class _OrderFact(Protocol):
    """What every order event carries besides its own data."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    occurred_at: datetime
    actor: str


def _event_class(event_name: str) -> type[Any]:
    """An event class the @event decorator defined on Order."""
    event_class: type[Any] = getattr(Order, event_name)
    return event_class


ORDER_PLACED = _event_class("Placed")


def _topic(event_name: str) -> str:
    return get_topic(_event_class(event_name))


class OrderApplication(LedgerApplication):
    name = "orders"
    value_types = (GeoPoint, OrderLine, AttributionEvidence, DeliveryAddress)

    def __init__(
        self,
        clock: Clock,
        organisation: OrganisationApplication,
        env: dict[str, str] | None = None,
        payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
    ) -> None:
        super().__init__(clock, env)
        self.organisation = organisation
        self.payment_window = payment_window
        self._unpaid = _UnpaidOrders()

    # --- commands ----------------------------------------------------------------

    def place_order(
        self,
        command: Command,
        *,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        delivery: DeliveryAddress,
        evidence: AttributionEvidence,
    ) -> CommandResult:
        # A retry with the same key collides on the order id as well as on the key.
        if command.idempotency is not None:
            order_id = natural_id("order", command.idempotency.key)
        else:
            order_id = uuid4()

        def decide() -> Decision:
            self._check_references(brand_id, member_id, lines, evidence)
            order = Order.place(
                order_id=order_id,
                brand_id=brand_id,
                member_id=member_id,
                lines=[
                    OrderLine(n, line.sku_id, line.quantity, line.unit_price_fen)
                    for n, line in enumerate(lines, start=1)
                ],
                delivery=delivery,
                evidence=evidence,
                payment_window=self.payment_window,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )
            return [order], CommandResult(order.id, order.version)

        return self.execute(command, decide)

    def pay(
        self,
        command: Command,
        order_id: UUID,
        amount_fen: Fen,
        payment_ref: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.pay(amount_fen, payment_ref, self.clock.now(), command.actor),
        )

    def cancel(
        self, command: Command, order_id: UUID, reason: str, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.cancel(reason, self.clock.now(), command.actor),
        )

    def ship(
        self,
        command: Command,
        order_id: UUID,
        shipment_id: str,
        node_id: UUID | None,
        quantities: Mapping[int, int],
        expected_version: int | None = None,
    ) -> CommandResult:
        def change(order: Order) -> None:
            if node_id is not None:
                self.organisation.reference(Node, node_id, "node_id")
            order.ship(shipment_id, node_id, quantities, self.clock.now(), command.actor)

        return self.update(command, Order, order_id, expected_version, change)

    def deliver(
        self,
        command: Command,
        order_id: UUID,
        shipment_id: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.deliver(shipment_id, self.clock.now(), command.actor),
        )

    def return_items(
        self,
        command: Command,
        order_id: UUID,
        *,
        return_id: str,
        line_no: int,
        quantity: int,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.return_items(
                return_id, line_no, quantity, reason, self.clock.now(), command.actor
            ),
        )

    def refund(
        self,
        command: Command,
        order_id: UUID,
        refund_id: str,
        amount_fen: Fen,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.refund(refund_id, amount_fen, self.clock.now(), command.actor),
        )

    def expire_unpaid_orders(self, as_of: datetime | None = None) -> list[UUID]:
        """Cancels every unpaid order whose payment window closed by `as_of`.

        Run by a scheduler or `guideledger expire-unpaid`. Safe to run twice or
        concurrently: an order paid or cancelled meanwhile is skipped.
        """
        as_of = require_utc(as_of or self.clock.now())
        expired = []
        for order_id in self._unpaid.due_by(as_of, self):
            try:
                self.update(
                    Command(actor=SYSTEM_ACTOR),
                    Order,
                    order_id,
                    None,
                    lambda order: order.expire_payment_window(as_of, SYSTEM_ACTOR),
                )
            except CannotCancel:
                continue
            expired.append(order_id)
        return expired

    # --- queries -----------------------------------------------------------------

    def get_order(self, order_id: UUID) -> Order:
        return self.load(Order, order_id)

    def order_as_of(self, order_id: UUID, instant: datetime) -> Order:
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

    def order_history(self, order_id: UUID) -> list[HistoryEntry]:
        return [_history_entry(e) for e in self._order_events(order_id)]

    # --- helpers -----------------------------------------------------------------

    def _order_events(self, order_id: UUID) -> list[_OrderFact]:
        events = list(self.events.get(order_id))
        if not events or not isinstance(events[0], ORDER_PLACED):
            raise NotFound(f"no order {order_id}", id=str(order_id))
        return cast("list[_OrderFact]", events)

    def _check_references(
        self,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        evidence: AttributionEvidence,
    ) -> None:
        org = self.organisation
        org.reference(Brand, brand_id, "brand_id")
        org.reference(Member, member_id, "member_id")
        for position, line in enumerate(lines, start=1):
            sku = org.reference(Sku, line.sku_id, f"lines[{position}].sku_id")
            if sku.brand_id != brand_id:
                raise RuleViolated("a line's SKU belongs to another brand", line_no=position)
        if evidence.guide_id is not None:
            guide = org.reference(Guide, evidence.guide_id, "evidence.guide_id")
            if guide.brand_id != brand_id:
                raise RuleViolated("the guide works for another brand")
        if evidence.store_id is not None:
            store = org.reference(Node, evidence.store_id, "evidence.store_id")
            if store.brand_id != brand_id or store.kind is not NodeKind.STORE:
                raise RuleViolated("evidence.store_id names no store of this brand")


def _history_entry(domain_event: _OrderFact) -> HistoryEntry:
    data = {
        f.name: getattr(domain_event, f.name)
        for f in fields(domain_event)  # type: ignore[arg-type]
        if f.name not in _ENVELOPE_FIELDS | {"occurred_at", "actor"}
    }
    return HistoryEntry(
        version=domain_event.originator_version,
        event=type(domain_event).__name__,
        occurred_at=domain_event.occurred_at,
        recorded_at=domain_event.timestamp,
        actor=domain_event.actor,
        data=data,
    )


class _UnpaidOrders:
    """Which orders await payment, and until when: a fold over the order log.

    Kept in memory and caught up from the notification log (filtered to the
    three events that matter) on each sweep.
    """

    TOPICS = (_topic("Placed"), _topic("Paid"), _topic("Cancelled"))
    BATCH = 1000

    def __init__(self) -> None:
        self.due: dict[UUID, datetime] = {}
        self.position = 0
        self.lock = threading.Lock()

    def due_by(self, as_of: datetime, app: OrderApplication) -> list[UUID]:
        with self.lock:
            self._catch_up(app)
            return sorted(
                (order_id for order_id, due in self.due.items() if due <= as_of),
                key=lambda order_id: self.due[order_id],
            )

    def _catch_up(self, app: OrderApplication) -> None:
        while True:
            batch = app.recorder.select_notifications(
                start=self.position + 1, limit=self.BATCH, topics=self.TOPICS
            )
            for notification in batch:
                self._apply(app.mapper.to_domain_event(notification))
                self.position = notification.id
            if len(batch) < self.BATCH:
                return

    def _apply(self, domain_event: DomainEventProtocol[UUID]) -> None:
        if isinstance(domain_event, ORDER_PLACED):
            placed = cast("Any", domain_event)
            self.due[placed.originator_id] = placed.payment_due_at
        else:
            self.due.pop(domain_event.originator_id, None)
