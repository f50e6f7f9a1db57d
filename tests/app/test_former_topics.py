"""Events stored before the bounded contexts had packages of their own name modules that
no longer exist; they still decode, and the projections still find them."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from guideledger.commissions.application.views import SETTLEMENT_PERIODS, SettlementPeriods
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.composition import Ledger
from guideledger.organisation.application.directory import UNITS, UnitDirectory
from guideledger.organisation.domain.units import Node
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import delivered_order, guide_key, mature_and_close_november
from tests.stored_json import as_stored_in_json
from tests.world import build_world

NOW_TOPIC = "guideledger.organisation.domain.units:Node."
NOW_VALUE = b"guideledger.kernel.values:GeoPoint"


def as_stored_before_the_move(event: StoredEvent, originator_id: object) -> StoredEvent:
    """A node's event (as stored in JSON: the move was before events were stored by
    their declared types) under the module the node was in."""
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
    stored = [
        as_stored_in_json(ledger.organisation, e)
        for e in recorder.select_events(world.warehouse_id)
    ]
    assert NOW_VALUE in stored[0].state, "the location is stored as a named value object"
    former_id = uuid4()
    recorder.insert_events([as_stored_before_the_move(e, former_id) for e in stored])

    node = ledger.organisation.load(Node, former_id)
    assert node.location == ledger.organisation.load(Node, world.warehouse_id).location
    ledger.projections.catch_up(UnitDirectory)
    rows = ledger.projections.select(UNITS, {"unit_id": former_id})
    assert [row["code"] for row in rows] == ["WH-SH"]


def test_a_statement_stored_under_its_former_module_is_read_and_projected(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    delivered_order(ledger, world)
    mature_and_close_november(ledger, world, clock)
    statement = ledger.commissions.statement(guide_key(world), "2026-11")
    now_topic = "guideledger.commissions.domain.settlement:SettlementPeriod."
    former_topic = "domain.ledger:SettlementPeriod."
    recorder = ledger.commissions.recorder
    stored = [
        as_stored_in_json(ledger.commissions, e) for e in recorder.select_events(statement.id)
    ]
    assert all(e.topic.startswith(now_topic) for e in stored)
    former_id = uuid4()
    recorder.insert_events(
        [
            StoredEvent(
                former_id,
                e.originator_version,
                e.topic.replace(now_topic, former_topic),
                _with_former_value_names(e.state),
            )
            for e in stored
        ]
    )

    again = ledger.commissions.load(SettlementPeriod, former_id)
    assert (again.closed, again.total_fen) == (True, statement.total_fen)
    assert ledger.commissions.statement_lines(again) == ledger.commissions.statement_lines(
        statement
    )
    ledger.projections.catch_up(SettlementPeriods)
    [row] = ledger.projections.select(SETTLEMENT_PERIODS, {"period_id": former_id})
    assert (row["closed"], row["total_fen"]) == (True, statement.total_fen)


def _with_former_value_names(state: bytes) -> bytes:
    """The statement's value objects (its payee, its lines) as named before the move."""
    for now, former in (
        (b"guideledger.commissions.domain.rules:", b"domain.commission:"),
        (b"guideledger.commissions.domain.ledger:", b"domain.ledger:"),
    ):
        state = state.replace(now, former)
    return state
