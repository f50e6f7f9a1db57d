"""The outbox relay: followers of the event store that publish integration events.

Each feed is a process manager run like the projections (the worker's leader runs
it, batch by batch): it turns the domain events it follows into integration events and
hands each to the publisher, which returns only once the broker acknowledged it. The
feed's position moves after the whole batch was acknowledged, so a crash anywhere
re-sends the batch and loses nothing; the broker drops the re-sent copies by event id.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.application import Application

from guideledger.commissions.domain.rules import Payee
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.feed.contract import EventType, IntegrationEvent, Position
from guideledger.orders.domain.order import Order
from guideledger.readmodels.model import ProcessManager, on

REPLAY_BATCH = 500
Translated = tuple[EventType, datetime, dict[str, Any]]
"""What a handler makes of a domain event: the integration event's type, time and data."""


class Publisher(Protocol):
    def publish(self, event: IntegrationEvent) -> None:
        """Returns once the event is stored by the broker; raises if it may not be."""


class Feed(ProcessManager):
    """Publishes an integration event for each domain event it follows."""

    def __init__(self, publisher: Publisher, group_of_brand: Callable[[UUID], UUID]) -> None:
        self.publisher = publisher
        self.group_of_brand = group_of_brand

    def react_at(self, notification_id: int, event: object) -> None:
        published = self.integration_event(notification_id, event)
        if published is not None:
            self.publisher.publish(published)

    def integration_event(self, notification_id: int, event: object) -> IntegrationEvent | None:
        """What the domain event at that position of the log publishes (None: nothing)."""
        translated: Translated | None = self.handle(event)
        if translated is None:
            return None
        assert isinstance(event, Order.Event | SettlementPeriod.Event)
        event_type, occurred_at, data = translated
        brand_id = self.brand_of(event.originator_id)
        position = Position(
            self.application, notification_id, event.originator_id, event.originator_version
        )
        group_id = self.group_of_brand(brand_id)
        return IntegrationEvent(event_type, group_id, brand_id, position, occurred_at, data)

    def replay(self, source: Application[Any], from_position: int) -> Iterator[IntegrationEvent]:
        """The integration events of `source`'s log from `from_position` on, made again."""
        start = from_position
        while True:
            batch = source.recorder.select_notifications(
                start=start, limit=REPLAY_BATCH, topics=self.topics()
            )
            for notification in batch:
                event = self.integration_event(
                    notification.id, source.mapper.to_domain_event(notification)
                )
                if event is not None:
                    yield event
            if len(batch) < REPLAY_BATCH:
                return
            start = batch[-1].id + 1

    @abstractmethod
    def brand_of(self, aggregate_id: UUID) -> UUID:
        """The brand of the aggregate the event is about."""


class OrderFeed(Feed):
    """What warehouses and shops follow: allocations, parcels, refunds and exchanges."""

    name: ClassVar[str] = "feed_orders"
    application: ClassVar[str] = "orders"

    def __init__(
        self,
        publisher: Publisher,
        group_of_brand: Callable[[UUID], UUID],
        order_brand: Callable[[UUID], UUID],
    ) -> None:
        super().__init__(publisher, group_of_brand)
        self.order_brand = order_brand
        self._brands: dict[UUID, UUID] = {}  # an order's brand never changes

    def brand_of(self, aggregate_id: UUID) -> UUID:
        if aggregate_id not in self._brands:
            self._remember(aggregate_id, self.order_brand(aggregate_id))
        return self._brands[aggregate_id]

    def _remember(self, order_id: UUID, brand_id: UUID) -> None:
        if len(self._brands) > 100_000:
            self._brands.clear()
        self._brands[order_id] = brand_id

    @on(Order.Placed)
    def placed(self, event: Order.Placed) -> None:
        """Publishes nothing: remembers the order's brand, so its later events need no read
        of the order (reading it cost this follower nearly half its time)."""
        self._remember(event.originator_id, event.brand_id)

    @on(Order.Allocated)
    def allocated(self, event: Order.Allocated) -> Translated:
        nodes = [
            {
                "node_id": str(allocation.node_id),
                "kind": allocation.kind,
                "lines": [
                    {"line_no": line.line_no, "sku_id": str(line.sku_id), "quantity": line.quantity}
                    for line in allocation.lines
                ],
            }
            for allocation in event.decision.allocations
        ]
        return EventType.ORDER_ALLOCATED, event.occurred_at, {**_order(event), "nodes": nodes}

    @on(Order.Shipped)
    def shipped(self, event: Order.Shipped) -> Translated:
        lines = sorted((int(line_no), quantity) for line_no, quantity in event.quantities.items())
        return (
            EventType.ORDER_SHIPPED,
            event.occurred_at,
            {
                **_order(event),
                "shipment_id": event.shipment_id,
                "node_id": str(event.node_id),
                "lines": [{"line_no": n, "quantity": quantity} for n, quantity in lines],
            },
        )

    @on(Order.Delivered)
    def delivered(self, event: Order.Delivered) -> Translated:
        data = {**_order(event), "shipment_id": event.shipment_id}
        return EventType.ORDER_DELIVERED, event.occurred_at, data

    @on(Order.Refunded)
    def refunded(self, event: Order.Refunded) -> Translated:
        data = {**_order(event), "refund_id": event.refund_id, "amount_fen": event.amount_fen}
        return EventType.ORDER_REFUNDED, event.occurred_at, data

    @on(Order.ItemsExchanged)
    def exchanged(self, event: Order.ItemsExchanged) -> Translated:
        replacement = event.replacement
        return (
            EventType.ORDER_EXCHANGED,
            event.occurred_at,
            {
                **_order(event),
                "exchange_id": event.exchange_id,
                "line_no": event.line_no,
                "quantity": event.quantity,
                "received_at_node_id": str(event.received_at_node_id),
                "replacement": {
                    "line_no": replacement.line_no,
                    "sku_id": str(replacement.sku_id),
                    "quantity": replacement.quantity,
                    "unit_price_fen": replacement.unit_price_fen,
                },
            },
        )


def _order(event: Order.Event) -> dict[str, Any]:
    """The order and its version: a consumer applies an order's events in version order."""
    return {"order_id": str(event.originator_id), "order_version": event.originator_version}


class StatementFeed(Feed):
    """What payroll follows: statements closed and paid."""

    name: ClassVar[str] = "feed_statements"
    application: ClassVar[str] = "commissions"

    def __init__(
        self,
        publisher: Publisher,
        group_of_brand: Callable[[UUID], UUID],
        statement: Callable[[UUID], SettlementPeriod],
    ) -> None:
        super().__init__(publisher, group_of_brand)
        self.statement = statement

    def brand_of(self, aggregate_id: UUID) -> UUID:
        return self.statement(aggregate_id).brand_id

    @on(SettlementPeriod.Closed)
    def closed(self, event: SettlementPeriod.Closed) -> Translated:
        data = {**self._statement(event.originator_id), "total_fen": event.total_fen}
        return EventType.STATEMENT_CLOSED, event.closed_at, {**data, "final": event.final}

    @on(SettlementPeriod.PaidOut)
    def paid(self, event: SettlementPeriod.PaidOut) -> Translated:
        """A payout is always the statement's whole total."""
        statement = self._statement(event.originator_id)
        data = {**statement, "amount_fen": self.statement(event.originator_id).total_fen}
        return (
            EventType.STATEMENT_PAID,
            event.posting.occurred_at,
            {
                **data,
                "reference": event.reference,
            },
        )

    def _statement(self, statement_id: UUID) -> dict[str, Any]:
        """Whose statement, for which period, and where its lines are read."""
        statement = self.statement(statement_id)
        return {
            "statement_id": str(statement_id),
            "payee": _payee(statement.payee),
            "period": statement.period,
            "lines": {
                "line_count": statement.line_count,
                "href": f"/payees/{statement.payee.level}/{statement.payee.payee_id}"
                f"/statements/{statement.period}",
            },
        }


def _payee(payee: Payee) -> dict[str, str]:
    return {"level": str(payee.level), "payee_id": str(payee.payee_id)}


class WebhookOrderFeed(OrderFeed):
    """The order feed queued for the groups' webhooks (a position of its own)."""

    name: ClassVar[str] = "webhook_orders"


class WebhookStatementFeed(StatementFeed):
    name: ClassVar[str] = "webhook_statements"
