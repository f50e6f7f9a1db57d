"""The event feed in tests: a publisher that keeps what it is given, a story that makes
every published event type, and a consumer written against the schemas."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator

from guideledger.composition import Ledger, register_feed
from guideledger.feed.contract import EventType, IntegrationEvent, Position, event_id, schema
from guideledger.feed.relay import Feed, OrderFeed, Publisher, StatementFeed
from guideledger.orders.domain.order import Order
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import FINANCE, delivered_order, guide_key, without_bonus
from tests.app.test_exchanges_app import exchange, same_price_sku, ship_replacement
from tests.world import FRONTEND, build_world, receive

VALIDATORS = {
    event_type: Draft202012Validator(
        schema(event_type), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for event_type in EventType
}


class RecordingPublisher:
    """Acknowledges every event at once and keeps it."""

    def __init__(self) -> None:
        self.published: list[IntegrationEvent] = []

    def publish(self, event: IntegrationEvent) -> None:
        self.published.append(event)


class Crash(BaseException):
    """The relay's process dying: nothing after it runs, nothing catches it."""


class CrashingAfter:
    """Publishes through `publisher` until `acknowledged` events were acknowledged, then
    dies before the next one."""

    def __init__(self, publisher: Publisher, acknowledged: int) -> None:
        self.publisher = publisher
        self.left = acknowledged

    def publish(self, event: IntegrationEvent) -> None:
        if self.left == 0:
            raise Crash
        self.publisher.publish(event)
        self.left -= 1


def attach_feed(ledger: Ledger, publisher: Publisher) -> None:
    register_feed(
        ledger.projections, ledger.organisation, ledger.orders, ledger.commissions, publisher
    )


def relay(ledger: Ledger) -> int:
    """One catch-up of the relay's followers: the events handed over."""
    return sum(ledger.projections.process(feed.name) for feed in (OrderFeed, StatementFeed))


def every_event_type(ledger: Ledger, clock: ManualClock) -> None:
    """Orders allocated, shipped, delivered, exchanged, returned and refunded, then
    November closed and the guide's statement paid."""
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    size_l = same_price_sku(ledger, world)
    receive(ledger, world.other_store_id, size_l, 5)
    exchanged = delivered_order(ledger, world)
    assert isinstance(exchanged, UUID)
    exchange(ledger, exchanged, size_l, world.warehouse_id)
    ship_replacement(ledger, exchanged)
    returned = delivered_order(ledger, world)
    assert isinstance(returned, UUID)
    ledger.orders.return_items(
        FRONTEND, returned, return_id="r1", line_no=2, quantity=1, reason="too small"
    )
    ledger.orders.refund(FRONTEND, returned, "rf1", 5_900)
    ledger.projections.process_all()
    clock.advance(timedelta(days=7))
    ledger.commissions.mature_due()
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")
    total = ledger.commissions.statement(guide_key(world), "2026-11").total_fen
    ledger.commissions.pay_out(FINANCE, guide_key(world), "2026-11", total, "BANK-1")


def expected_event_ids(ledger: Ledger) -> set[str]:
    """Every event the feed should publish, read straight from the logs."""
    ids = set()
    for feed in (OrderFeed, StatementFeed):
        ids |= {str(event_id(position)) for position in _positions(ledger, feed)}
    return ids


def _positions(ledger: Ledger, feed: type[Feed]) -> Iterable[Position]:
    source = ledger.projections.sources[feed.application]
    notifications = source.recorder.select_notifications(
        start=0, limit=1_000_000, topics=feed.topics()
    )
    for notification in notifications:
        event: Any = source.mapper.to_domain_event(notification)
        if isinstance(event, Order.Placed):
            continue  # placing publishes nothing: the feed only remembers the brand
        yield Position(
            feed.application, notification.id, event.originator_id, event.originator_version
        )


class Consumer:
    """A subscriber that knows only the schemas: it validates each message, drops a
    copy it has seen (by event id) and applies each order's events in version order."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.copies = 0
        self.order_versions: dict[str, list[int]] = defaultdict(list)

    def receive(self, body: bytes, message_id: str | None = None) -> None:
        event = json.loads(body)
        VALIDATORS[EventType(event["type"])].validate(event)
        assert message_id in (None, event["event_id"])
        if event["event_id"] in self.events:
            self.copies += 1
            return
        self.events[event["event_id"]] = event
        if event["type"].startswith("order."):
            versions = self.order_versions[event["data"]["order_id"]]
            assert not versions or versions[-1] < event["data"]["order_version"], "out of order"
            versions.append(event["data"]["order_version"])

    def types(self) -> set[str]:
        return {event["type"] for event in self.events.values()}
