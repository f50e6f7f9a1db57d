"""Orders of a forgotten member: what readers and routing are left with, for orders placed
now and for orders recorded before their member's data was sealed."""

from __future__ import annotations

import dataclasses
import json
from uuid import UUID, uuid4

from eventsourcing.persistence import Mapper
from fastapi.encoders import jsonable_encoder

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.privacy import area_of
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.domain.lines import DeliveryAddress
from guideledger.orders.domain.order import Order
from tests.world import FRONTEND, PRICES, World, build_world

EXACT = GeoPoint(31.230416, 121.473701)
NOTE = "Wang Fang 推荐"
REASON = "moving to 北京市朝阳区"
SUPPORT = Command("support")


def noted_order(ledger: Ledger, world: World, stocked: bool = True) -> UUID:
    """A store-account order whose customer named a guide (more than any node holds, unless
    `stocked`)."""
    note = AttributionEvidence(Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note=NOTE)
    return ledger.orders.place_order(
        FRONTEND,
        brand_id=world.brand_id,
        member_id=world.member_id,
        lines=[LineRequest(world.sku_ids[0], 1 if stocked else 10_000, PRICES[0])],
        delivery=DeliveryRequest("1 Nanjing Road", EXACT),
        evidence=note,
    ).id


def recorded_before_sealing(ledger: Ledger, order_id: UUID) -> UUID:
    """The order's events again under a new id, as they were recorded before the exact
    point, the note and the reason were sealed: in the clear, the order placed in JSON."""
    copy_id, personal = uuid4(), PersonalData(ledger.organisation.vault)
    json_mapper: Mapper[UUID] = Mapper(ledger.orders.mapper.transcoder)  # as stored then
    copied = []
    for stored in ledger.orders.recorder.select_events(order_id):
        event = ledger.orders.mapper.to_domain_event(stored)
        state = vars(event)
        if isinstance(event, Order.Placed):
            state["delivery"] = DeliveryAddress(event.delivery.address, EXACT)
            state["evidence"] = dataclasses.replace(event.evidence, guide_note=NOTE)
        if isinstance(event, Order.Cancelled):
            state["reason"] = personal.text(event.reason, forgotten=False)
        state["originator_id"] = copy_id
        mapper = json_mapper if isinstance(event, Order.Placed) else ledger.orders.mapper
        copied.append(mapper.to_stored_event(event))
    ledger.orders.recorder.insert_events(copied)
    return copy_id


def test_an_order_recorded_in_the_clear_shows_none_of_it_once_its_member_is_forgotten(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    order_id = noted_order(ledger, world)
    ledger.orders.cancel(SUPPORT, order_id, REASON)
    old_id = recorded_before_sealing(ledger, order_id)
    personal = PersonalData(ledger.organisation.vault)
    old = ledger.orders.load(Order, old_id)
    assert (old.delivery.location, old.evidence.guide_note, old.cancel_reason) == (
        EXACT,
        NOTE,
        REASON,
    )
    assert personal.point(old.delivery, forgotten=False) == EXACT

    ledger.organisation.forget_member(SUPPORT, world.member_id, "right to erasure")

    assert personal.forgotten(world.member_id)
    for order in (old, ledger.orders.load(Order, order_id)):
        assert personal.point(order.delivery, forgotten=True) == area_of(EXACT)
        assert personal.text(order.evidence.guide_note, forgotten=True) is None
        assert personal.text(order.cancel_reason, forgotten=True) is None
        history = ledger.order_history.entries(order.id)
        shown = json.dumps(jsonable_encoder([entry.data for entry in history]), ensure_ascii=False)
        assert [text for text in (NOTE, REASON, str(EXACT.latitude)) if text in shown] == []
        assert '"distance_km": null' in shown
        assert '"latitude": 31.23,' in shown


def test_an_order_waiting_for_stock_is_routed_from_its_area_once_its_member_is_forgotten(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    order_id = noted_order(ledger, world, stocked=False)
    assert ledger.orders.load(Order, order_id).awaiting_stock
    ledger.organisation.forget_member(SUPPORT, world.member_id, "right to erasure")
    ledger.stock.receive(SUPPORT, world.warehouse_id, world.sku_ids[0], 10_000, "ASN-1")

    order = ledger.orders.load(Order, order_id)
    assert [a.node_id for a in order.allocations] == [world.warehouse_id]
