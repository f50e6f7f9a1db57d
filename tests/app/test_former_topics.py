"""Events stored before the bounded contexts had packages of their own name modules that
no longer exist; they still decode, and the projections still find them."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from guideledger.composition import Ledger
from guideledger.organisation.application.directory import UNITS, UnitDirectory
from guideledger.organisation.domain.units import Node
from tests.world import build_world

NOW_TOPIC = "guideledger.organisation.domain.units:Node."
NOW_VALUE = b"guideledger.kernel.values:GeoPoint"


def as_stored_before_the_move(event: StoredEvent, originator_id: object) -> StoredEvent:
    assert event.topic.startswith(NOW_TOPIC)
    return StoredEvent(
        originator_id=originator_id,
        originator_version=event.originator_version,
        topic=event.topic.replace(NOW_TOPIC, "domain.organisation:Node."),
        state=event.state.replace(NOW_VALUE, b"domain.values:GeoPoint"),
    )


def test_a_node_stored_under_its_former_module_is_read_and_projected(ledger: Ledger) -> None:
    world = build_world(ledger)
    recorder = ledger.organisation.recorder
    stored = recorder.select_events(world.warehouse_id)
    assert NOW_VALUE in stored[0].state, "the location is stored as a named value object"
    former_id = uuid4()
    recorder.insert_events([as_stored_before_the_move(e, former_id) for e in stored])

    node = ledger.organisation.load(Node, former_id)
    assert node.location == ledger.organisation.load(Node, world.warehouse_id).location
    ledger.projections.catch_up(UnitDirectory)
    rows = ledger.projections.select(UNITS, {"unit_id": former_id})
    assert [row["code"] for row in rows] == ["WH-SH"]
