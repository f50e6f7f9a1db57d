"""The event feed on a real NATS JetStream server: every event type on its subject, a
relay dying mid-batch or losing its server re-sends and the consumer sees each event
once, each order's events in order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from guideledger.api.demo import load_demo, settle_demo
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.feed.contract import EventType, IntegrationEvent
from guideledger.feed.jetstream import FeedConfig, JetStreamPublisher
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.feed import (
    Consumer,
    Crash,
    CrashingAfter,
    attach_feed,
    every_event_type,
    expected_event_ids,
    relay,
)
from tests.nats_server import NatsServer, Received, consume, nats_server, unique_config


def consumed(config: FeedConfig) -> tuple[Consumer, list[Received]]:
    consumer, received = Consumer(), consume(config)
    for message in received:
        consumer.receive(message.body, message.message_id)
    return consumer, received


def test_every_event_type_is_published_on_its_groups_subject_and_consumed(
    ledger: Ledger, clock: ManualClock, feed_config: FeedConfig
) -> None:
    publisher = JetStreamPublisher(feed_config)
    attach_feed(ledger, publisher)
    every_event_type(ledger, clock)
    relay(ledger)
    publisher.close()

    consumer, received = consumed(feed_config)
    assert consumer.types() == {str(event_type) for event_type in EventType}
    assert set(consumer.events) == expected_event_ids(ledger)
    assert consumer.copies == 0
    for message in received:
        event = consumer.events[message.message_id]
        assert (
            message.subject == f"{feed_config.subject_prefix}.{event['group_id']}.{event['type']}"
        )


class Counting:
    def __init__(self, publisher: JetStreamPublisher) -> None:
        self.publisher = publisher
        self.sent = 0

    def publish(self, event: IntegrationEvent) -> None:
        self.publisher.publish(event)
        self.sent += 1


def test_a_relay_dying_mid_batch_re_sends_and_the_consumer_sees_each_event_once(
    pg_ledger: Ledger, clock: ManualClock, feed_config: FeedConfig
) -> None:
    every_event_type(pg_ledger, clock)
    dying = JetStreamPublisher(feed_config)
    attach_feed(pg_ledger, CrashingAfter(dying, acknowledged=5))
    with pytest.raises(Crash):
        relay(pg_ledger)
    dying.close()

    with bootstrap(pg_ledger.settings, clock) as restarted:  # the next worker, same store
        publisher = JetStreamPublisher(feed_config)
        counting = Counting(publisher)
        attach_feed(restarted, counting)
        relay(restarted)
        publisher.close()

    expected = expected_event_ids(pg_ledger)
    consumer, received = consumed(feed_config)
    assert counting.sent == len(expected)  # the five acknowledged before the crash again
    assert len(received) == len(expected)  # JetStream kept one copy of each
    assert set(consumer.events) == expected
    assert consumer.copies == 0


class KillingServerAfter:
    """Publishes until `acknowledged` events were acknowledged, then kills the server."""

    def __init__(self, publisher: JetStreamPublisher, server: NatsServer, acknowledged: int):
        self.publisher, self.server, self.left = publisher, server, acknowledged

    def publish(self, event: IntegrationEvent) -> None:
        if self.left == 0:
            self.server.kill()
        self.publisher.publish(event)
        self.left -= 1


def test_a_relay_losing_its_server_mid_batch_re_sends_once_it_is_back(
    ledger: Ledger, clock: ManualClock, tmp_path: Path
) -> None:
    every_event_type(ledger, clock)
    with nats_server(tmp_path / "js") as server:
        config = unique_config(server.url)
        publisher = JetStreamPublisher(config)
        attach_feed(ledger, KillingServerAfter(publisher, server, acknowledged=3))
        with pytest.raises(Exception):  # noqa: B017, PT011 (whatever the client raises)
            relay(ledger)
        publisher.close()
    port = int(config.url.rsplit(":", 1)[1])
    with nats_server(tmp_path / "js", port):  # the same store, back on the same address
        for name in ("feed_orders", "feed_statements"):
            ledger.projections.retire(name)
        again = JetStreamPublisher(config)
        attach_feed(ledger, again)
        relay(ledger)
        again.close()
        consumer, received = consumed(config)

    assert len(received) == len(expected_event_ids(ledger))
    assert set(consumer.events) == expected_event_ids(ledger)
    assert consumer.copies == 0


def test_a_consumer_receives_every_event_of_the_demos_orders_once_and_in_order(
    feed_config: FeedConfig,
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    clock = ManualClock(start)
    with bootstrap(Settings(persistence=Persistence.MEMORY), clock) as demo:
        load_demo(demo, clock.set, orders=60, members=40)
        settle_demo(demo, start)
        dying = JetStreamPublisher(feed_config)
        attach_feed(demo, CrashingAfter(dying, acknowledged=25))
        with pytest.raises(Crash):
            relay(demo)
        dying.close()
        publisher = JetStreamPublisher(feed_config)
        demo.projections.retire("feed_orders")  # a relay that never saved its position
        demo.projections.retire("feed_statements")
        attach_feed(demo, publisher)
        relay(demo)
        publisher.close()
        expected = expected_event_ids(demo)

    consumer, _received = consumed(feed_config)
    assert set(consumer.events) == expected
    assert consumer.copies == 0
    assert {"order.allocated", "order.shipped", "order.delivered", "statement.closed"} <= (
        consumer.types()
    )
    assert sum(len(versions) for versions in consumer.order_versions.values()) > 60
