"""The organisation application on every backend."""

from dataclasses import replace
from uuid import uuid4

import pytest

from guideledger.composition import Ledger
from guideledger.eventstore.commands import (
    Command,
    IdempotencyKey,
    UnknownReference,
    VersionConflict,
)
from guideledger.kernel.errors import AlreadyExists, RuleViolated
from guideledger.kernel.periods import SettlementCadence
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.domain.guides import Guide, GuideStatus
from guideledger.organisation.domain.units import Node, NodeKind
from tests.world import (
    ADMIN,
    GROUP_ID,
    SHANGHAI,
    build_world,
    ensure_group,
    event_count,
    place_order,
)


def test_registering_twice_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    group_id = ensure_group(ledger)
    ledger.organisation.register_brand(
        ADMIN, group_id, "B", "B", "Asia/Shanghai", SettlementCadence.MONTHLY
    )
    before = event_count(ledger)
    with pytest.raises(AlreadyExists):
        ledger.organisation.register_brand(
            ADMIN, group_id, "B", "Other", "Asia/Shanghai", SettlementCadence.QUARTERLY
        )
    assert event_count(ledger) == before


def test_refuses_references_to_unknown_things(ledger: Ledger) -> None:
    with pytest.raises(UnknownReference):
        ledger.organisation.register_branch(ADMIN, uuid4(), "BR", "Branch")
    world = build_world(ledger)
    with pytest.raises(UnknownReference):
        ledger.organisation.hire_guide(ADMIN, world.brand_id, "G-9", "Zhao", uuid4())


def test_a_guide_works_in_a_store_not_a_warehouse(ledger: Ledger) -> None:
    world = build_world(ledger)
    with pytest.raises(RuleViolated):
        ledger.organisation.hire_guide(ADMIN, world.brand_id, "G-9", "Zhao", world.warehouse_id)


def test_nodes_of_one_brand_stay_out_of_another(ledger: Ledger) -> None:
    world = build_world(ledger)
    other = ledger.organisation.register_brand(
        ADMIN, GROUP_ID, "OTHER", "Other", "Asia/Shanghai", SettlementCadence.QUARTERLY
    ).id
    with pytest.raises(RuleViolated):
        ledger.organisation.register_node(
            ADMIN,
            brand_id=other,
            branch_id=world.branch_id,
            code="X",
            name="X",
            kind=NodeKind.WAREHOUSE,
            location=SHANGHAI,
        )


def test_guide_transfer_and_leave_are_kept_in_history(ledger: Ledger) -> None:
    world = build_world(ledger)
    org = ledger.organisation
    org.transfer_guide(ADMIN, world.guide_id, world.other_store_id)
    org.record_guide_left(ADMIN, world.guide_id, "resigned")
    guide = org.load(Guide, world.guide_id)
    assert guide.store_id == world.other_store_id
    assert guide.status is GuideStatus.LEFT
    assert org.repository.get(world.guide_id, version=1).store_id == world.store_id


def test_expected_version_guards_against_lost_updates(ledger: Ledger) -> None:
    world = build_world(ledger)
    org = ledger.organisation
    org.pause_node(ADMIN, world.store_id, "renovation", expected_version=1)
    with pytest.raises(VersionConflict) as refused:
        org.resume_node(ADMIN, world.store_id, expected_version=1)
    assert refused.value.extensions["current_version"] == 2
    assert org.load(Node, world.store_id).paused


def test_an_idempotent_create_returns_the_first_outcome(ledger: Ledger) -> None:
    command = Command("admin", IdempotencyKey("k-1", "fingerprint"))
    first = ledger.organisation.register_member(
        command, group_id=ensure_group(ledger), member_no="M1", name="Li", phone="138"
    )
    before = event_count(ledger)
    again = ledger.organisation.register_member(
        command, group_id=ensure_group(ledger), member_no="M1", name="Li", phone="138"
    )
    assert again == first
    assert event_count(ledger) == before


def test_locations_round_trip_through_the_store(ledger: Ledger) -> None:
    world = build_world(ledger)
    ledger.organisation.repository.cache = None
    assert ledger.organisation.load(Node, world.store_id).location == GeoPoint(31.2304, 121.4737)


def test_a_member_buys_and_is_bound_only_in_their_own_groups_brands(ledger: Ledger) -> None:
    world = build_world(ledger)
    rival = ensure_group(ledger, "RIVAL-GROUP")
    stranger = ledger.organisation.register_member(
        ADMIN, group_id=rival, member_no="M0001", name="Zhao", phone="13900000000"
    ).id
    assert stranger != world.member_id  # the same number in another group is another member
    before = event_count(ledger)
    with pytest.raises(RuleViolated, match="another group"):
        place_order(ledger, replace(world, member_id=stranger))
    with pytest.raises(RuleViolated, match="another group"):
        ledger.bindings.bind(ADMIN, stranger, world.brand_id, world.guide_id, "asked")
    assert event_count(ledger) == before
