"""The relay on every backend, with a publisher that keeps what it is given: every
published event type is made, each matches its schema, and a re-run of the relay from
the start makes the same events under the same ids."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.composition import Ledger
from guideledger.feed.contract import EventType, IntegrationEvent
from guideledger.feed.relay import OrderFeed, StatementFeed
from guideledger.organisation.domain.group import Group
from guideledger.platform.clock import ManualClock
from tests.feed import (
    Consumer,
    RecordingPublisher,
    attach_feed,
    every_event_type,
    expected_event_ids,
    relay,
)


def test_every_event_type_is_published_once_and_matches_its_schema(
    ledger: Ledger, clock: ManualClock
) -> None:
    publisher = RecordingPublisher()
    attach_feed(ledger, publisher)
    every_event_type(ledger, clock)
    relay(ledger)

    consumer = Consumer()
    for event in publisher.published:
        consumer.receive(event.body(), event.event_id)
    assert consumer.types() == {str(event_type) for event_type in EventType}
    assert consumer.copies == 0
    assert set(consumer.events) == expected_event_ids(ledger)
    assert {e["group_id"] for e in consumer.events.values()} == {str(Group.create_id("ACME-GROUP"))}


def test_the_relay_re_run_from_the_start_makes_the_same_events(
    ledger: Ledger, clock: ManualClock
) -> None:
    first, again = RecordingPublisher(), RecordingPublisher()
    attach_feed(ledger, first)
    every_event_type(ledger, clock)
    relay(ledger)
    for name in ("feed_orders", "feed_statements"):
        ledger.projections.retire(name)
    attach_feed(ledger, again)
    relay(ledger)

    assert [e.body() for e in again.published] == [e.body() for e in first.published]


def test_the_relay_publishes_only_what_was_recorded_since_its_position(
    ledger: Ledger, clock: ManualClock
) -> None:
    publisher = RecordingPublisher()
    attach_feed(ledger, publisher)
    every_event_type(ledger, clock)
    published = relay(ledger)

    assert published > 0
    assert relay(ledger) == 0
    assert len(publisher.published) == len(expected_event_ids(ledger))


def order_brand(ledger: Ledger) -> Callable[[UUID], UUID]:
    return lambda order_id: ledger.orders.get_order(order_id).brand_id


def statement(ledger: Ledger) -> Callable[[UUID], SettlementPeriod]:
    return lambda statement_id: ledger.commissions.load(SettlementPeriod, statement_id)


class BrokerDown:
    def publish(self, event: IntegrationEvent) -> None:
        raise ConnectionError("no broker")


def test_a_feed_whose_broker_is_down_holds_back_no_other_follower(
    ledger: Ledger, clock: ManualClock
) -> None:
    every_event_type(ledger, clock)
    statements = RecordingPublisher()
    group_of_brand = ledger.organisation.group_of_brand
    ledger.projections.register(OrderFeed(BrokerDown(), group_of_brand, order_brand(ledger)))
    ledger.projections.register(StatementFeed(statements, group_of_brand, statement(ledger)))
    ledger.projections.process_each()

    assert not ledger.projections.caught_up(OrderFeed.name)
    assert ledger.projections.caught_up(StatementFeed.name)
    assert {e.type for e in statements.published} == {
        EventType.STATEMENT_CLOSED,
        EventType.STATEMENT_PAID,
    }


def test_the_order_feed_knows_an_orders_brand_from_its_placing_without_reading_it(
    ledger: Ledger, clock: ManualClock
) -> None:
    read: list[UUID] = []

    def reading(order_id: UUID) -> UUID:
        read.append(order_id)
        return order_brand(ledger)(order_id)

    every_event_type(ledger, clock)
    publisher = RecordingPublisher()
    ledger.projections.register(OrderFeed(publisher, ledger.organisation.group_of_brand, reading))
    ledger.projections.process_each()

    assert publisher.published
    assert read == []
