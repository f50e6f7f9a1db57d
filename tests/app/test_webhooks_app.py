"""Webhooks on every backend: a group's endpoint receives every event type once, signed,
each order's events in order, even when the queue is filled twice."""

from __future__ import annotations

from guideledger.composition import Ledger
from guideledger.feed.contract import EventType
from guideledger.platform.clock import ManualClock
from tests.feed import Consumer, every_event_type, expected_event_ids
from tests.webhook_receiver import webhook_receiver
from tests.world import GROUP_ID, ensure_group


def test_an_endpoint_receives_every_event_of_its_group_once_and_in_order(
    ledger: Ledger, clock: ManualClock
) -> None:
    ensure_group(ledger)
    with webhook_receiver() as receiver:
        receiver.secret = ledger.webhooks.register(GROUP_ID, receiver.url)["secret"]
        every_event_type(ledger, clock)
        ledger.projections.process_all()
        for event in ledger.webhooks.replayed(None, 0):  # a relay re-sending all it queued
            ledger.webhooks.publish(event)
        ledger.webhooks.dispatch()

    consumer = Consumer()
    for headers, body in receiver.received:
        consumer.receive(body, headers["guideledger-event-id"])
    assert consumer.copies == 0
    assert consumer.types() == {str(event_type) for event_type in EventType}
    assert set(consumer.events) == expected_event_ids(ledger)
    assert receiver.refused == 0
