"""Events recorded before they carried their brand-local day still decode: an
old event's day is taken in Shanghai (`TIME_ZONE_OF_OLD_EVENTS`), which for a brand
there is the day a new event records. An order placed before orders had discounts has
none; a payment recorded before it carried the provider's transaction (version 3) keeps
the frontend's reference and has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from guideledger.bootstrap import bootstrap
from guideledger.engagement.domain import Share, ShareKind
from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.group import FOUNDING_GROUP_ID
from guideledger.organisation.domain.units import Node
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.stored_json import as_stored_in_json
from tests.world import ADMIN, build_world, order_total, pay, place_order

NEAR_MIDNIGHT = datetime(2026, 11, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 November in Shanghai
VERSIONED = (
    Order.Placed,
    Order.Paid,
    Order.Refunded,
    Order.AttributionCorrected,
    Share.Shared,
    Share.Visited,
    Share.AddedToCart,
)


def in_version_1(state: dict[str, Any]) -> dict[str, Any]:
    """Without the day, and an order placed without discounts."""
    assert state.pop("class_version") in {2, 3}
    for field in ("day", "sales_day"):
        state.pop(field, None)
    assert state.pop("discounts", []) == []
    return in_version_2_of_paid(state)


def in_version_2_of_paid(state: dict[str, Any]) -> dict[str, Any]:
    """A payment as recorded before version 3: on the frontend's word, under its
    reference (here, what the provider's transaction id is now)."""
    if "transaction_id" in state:
        state["payment_ref"] = state.pop("transaction_id")
    return state


def same_fact(old: Any, event: Any) -> bool:
    """Equal, but for where a payment recorded before version 3 keeps its reference."""
    if isinstance(event, Order.Paid):
        assert (old.payment_ref, old.transaction_id) == (event.transaction_id, None)
        return {**vars(old), "payment_ref": None, "transaction_id": event.transaction_id} == vars(
            event
        )
    return bool(old == event)


def in_json(application: LedgerApplication, stored: StoredEvent) -> StoredEvent:
    """As recorded in version 1: in JSON, by the library's transcoder (as then)."""
    stored = as_stored_in_json(application, stored)
    state = in_version_1(json.loads(stored.state))
    return replace(stored, state=json.dumps(state).encode())


def in_messagepack(_application: LedgerApplication, stored: StoredEvent) -> StoredEvent:
    """As recorded in version 1 as events are stored now, for the next versions."""
    state = in_version_1(msgspec.msgpack.decode(stored.state))
    return replace(stored, state=msgspec.msgpack.encode(state))


@pytest.mark.parametrize("as_recorded_in_version_1", [in_json, in_messagepack])
def test_an_event_recorded_before_it_carried_the_day_decodes_to_the_same_fact(
    as_recorded_in_version_1: Callable[[LedgerApplication, StoredEvent], StoredEvent],
) -> None:
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
        pay(ledger, order_id)
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
                    recorded = as_recorded_in_version_1(application, stored)
                    old = application.mapper.to_domain_event(recorded)
                    assert same_fact(old, event)
                    decoded.append(event)

    assert {type(event) for event in decoded} == set(VERSIONED)
    [paid] = [event for event in decoded if isinstance(event, Order.Paid)]
    assert paid.sales_day == "2026-11-02"


def test_a_payment_recorded_in_version_2_decodes_with_no_provider_transaction() -> None:
    with bootstrap(Settings(persistence=Persistence.MEMORY), ManualClock(NEAR_MIDNIGHT)) as ledger:
        world = build_world(ledger)
        order_id = place_order(ledger, world).id
        pay(ledger, order_id, transaction_id="wx-1")
        [stored] = [
            n
            for n in ledger.orders.recorder.select_events(order_id)
            if n.topic.endswith(":Order.Paid")
        ]
        state = msgspec.msgpack.decode(stored.state)
        assert state["class_version"] == 3
        state = in_version_2_of_paid({**state, "class_version": 2})
        recorded = replace(stored, state=msgspec.msgpack.encode(state))
        paid = ledger.orders.mapper.to_domain_event(recorded)

    assert isinstance(paid, Order.Paid)
    assert (paid.payment_ref, paid.transaction_id) == ("wx-1", None)
    assert (paid.amount_fen, paid.sales_day) == (order_total(), "2026-11-02")


def in_version_1_without_group(state: dict[str, Any]) -> dict[str, Any]:
    assert state.pop("class_version") == 2
    del state["group_id"]
    return state


@pytest.mark.parametrize("stored_as", ["json", "messagepack"])
def test_brands_and_members_recorded_before_groups_belong_to_the_founding_group(
    stored_as: str,
) -> None:
    with bootstrap(Settings(persistence=Persistence.MEMORY), ManualClock(NEAR_MIDNIGHT)) as ledger:
        world = build_world(ledger)
        organisation = ledger.organisation
        for aggregate_id in (world.brand_id, world.member_id):
            [stored] = organisation.recorder.select_events(aggregate_id)
            if stored_as == "json":
                stored = as_stored_in_json(organisation, stored)
                state = in_version_1_without_group(json.loads(stored.state))
                old = replace(stored, state=json.dumps(state).encode())
            else:
                state = in_version_1_without_group(msgspec.msgpack.decode(stored.state))
                old = replace(stored, state=msgspec.msgpack.encode(state))
            event = organisation.mapper.to_domain_event(old)
            assert event.group_id == FOUNDING_GROUP_ID  # type: ignore[attr-defined]


def test_a_store_registered_and_an_order_placed_before_cities_read_with_none() -> None:
    with bootstrap(Settings(persistence=Persistence.MEMORY), ManualClock(NEAR_MIDNIGHT)) as ledger:
        world = build_world(ledger)
        [registered] = ledger.organisation.recorder.select_events(world.store_id)
        state = msgspec.msgpack.decode(registered.state)
        assert (state.pop("class_version"), state.pop("city")) == (2, None)
        old_store = replace(registered, state=msgspec.msgpack.encode(state))
        store = ledger.organisation.mapper.to_domain_event(old_store)
        order_id = place_order(ledger, world).id
        placed = ledger.orders.recorder.select_events(order_id)[0]
        state = msgspec.msgpack.decode(placed.state)
        assert state["delivery"].pop("city") is None
        old_order = replace(placed, state=msgspec.msgpack.encode(state))
        order = ledger.orders.mapper.to_domain_event(old_order)

    assert isinstance(store, Node.Registered)
    assert (store.city, store.code) == (None, "S-SH-01")
    assert isinstance(order, Order.Placed)
    assert order.delivery.city is None
