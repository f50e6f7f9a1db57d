"""Events recorded before they carried their brand-local day still decode: an
old event's day is taken in Shanghai (`TIME_ZONE_OF_OLD_EVENTS`), which for a brand
there is the day a new event records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import StoredEvent

from guideledger.bootstrap import bootstrap
from guideledger.engagement.domain import Share, ShareKind
from guideledger.eventstore.commands import Command
from guideledger.orders.domain.order import Order
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.world import ADMIN, FRONTEND, build_world, order_total, place_order

NEAR_MIDNIGHT = datetime(2026, 11, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 November in Shanghai
VERSIONED = (
    Order.Paid,
    Order.Refunded,
    Order.AttributionCorrected,
    Share.Shared,
    Share.Visited,
    Share.AddedToCart,
)


def as_recorded_in_version_1(stored: StoredEvent) -> StoredEvent:
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    for field in ("day", "sales_day"):
        state.pop(field, None)
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )


def test_an_event_recorded_before_it_carried_the_day_decodes_to_the_same_fact() -> None:
    clock = ManualClock(NEAR_MIDNIGHT)
    with bootstrap(Settings(persistence=Persistence.MEMORY), clock) as ledger:
        world = build_world(ledger)
        _share, code = ledger.engagement.share(Command("guide"), world.guide_id, ShareKind.QR_CODE)
        ledger.engagement.record_visits(Command("mall"), code, 2)
        ledger.engagement.record_add_to_carts(Command("mall"), code, 1)
        other = ledger.organisation.hire_guide(
            ADMIN, world.brand_id, "G-009", "Sun Li", world.other_store_id
        ).id
        order_id = place_order(ledger, world).id
        ledger.orders.pay(FRONTEND, order_id, order_total(), "wx")
        clock.advance(timedelta(days=2))
        ledger.orders.cancel(Command("support"), order_id, "changed mind")
        ledger.orders.refund(Command("finance"), order_id, "f1", order_total())
        ledger.corrections.correct(
            Command("support"), order_id, guide_id=other, store_id=None, reason="wrong QR"
        )

        decoded = []
        for application in (ledger.orders, ledger.engagement):
            for stored in application.recorder.select_notifications(start=1, limit=10_000):
                event = application.mapper.to_domain_event(stored)
                if isinstance(event, VERSIONED):
                    old = application.mapper.to_domain_event(as_recorded_in_version_1(stored))
                    assert old == event
                    decoded.append(event)

    assert {type(event) for event in decoded} == set(VERSIONED)
    [paid] = [event for event in decoded if isinstance(event, Order.Paid)]
    assert paid.sales_day == "2026-11-02"
