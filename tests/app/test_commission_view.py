"""The commission view and a brand's candidate: the serving view follows the ledger; a
candidate under the brand's rules as they stand after a change is built beside it, diffed,
promoted (the difference booked) or discarded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import Payee, PayeeLevel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import Conflict, NotFound
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.app.test_commissions_app import (
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
from tests.app.test_rule_changes import NOVEMBER_1, guide_rate
from tests.stored_json import as_stored_in_json
from tests.world import ADMIN, World, build_world, event_count

GUIDE_AT_5_PERCENT = 1585  # 31,700 fen at 500 basis points


def view(ledger: Ledger, world: World, period: str) -> dict[str, int]:
    rows = ledger.commission_views.serving(world.brand_id, period)
    return {row["payee"]: row["amount_fen"] for row in rows}


def test_the_serving_view_equals_what_the_ledger_accrued_net_of_returns(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    order_id = delivered_order(ledger, world)
    ledger.orders.return_items(
        Command("support"), order_id, return_id="r1", line_no=2, quantity=1, reason="size"
    )
    ledger.projections.process_all()
    shown = view(ledger, world, "2026-11")
    accrual = ledger.commissions.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
    assert shown == {k: v for k, v in accrual.outstanding.items() if v}


def test_a_candidate_under_a_proposal_is_diffed_then_promoted_into_the_serving_view(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    first, second = delivered_order(ledger, world), delivered_order(ledger, world)
    before = view(ledger, world, "2026-11")

    ledger.commission_views.rebuild(world.brand_id, guide_rate(500, clock.now()))
    with pytest.raises(Conflict):
        ledger.commission_views.rebuild(world.brand_id)
    ledger.commission_views.wait()
    assert view(ledger, world, "2026-11") == before  # the serving view still serves

    guide = guide_key(world)
    lines = {line.payee: line for line in ledger.commission_views.diff(world.brand_id)}
    assert (lines[guide].old_fen, lines[guide].new_fen) == (2 * 951, 2 * GUIDE_AT_5_PERCENT)
    assert lines[guide].difference_fen == 2 * (GUIDE_AT_5_PERCENT - 951)
    assert {order.order_id for order in lines[guide].orders} == {first, second}
    assert lines[guide].orders[0].difference_fen == GUIDE_AT_5_PERCENT - 951
    assert lines[guide].correction_period == "2026-11"
    district = Payee(PayeeLevel.DISTRICT, world.district_id).key
    assert lines[district].new_fen == 0  # the new rules pay districts nothing

    ledger.commission_views.promote(ADMIN, world.brand_id)
    assert view(ledger, world, "2026-11")[guide] == 2 * GUIDE_AT_5_PERCENT
    assert ledger.commission_views.candidate_names() == set()
    with pytest.raises(NotFound):
        ledger.commission_views.promote(ADMIN, world.brand_id)


def test_a_closed_periods_difference_is_due_in_the_next_open_period(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    delivered_order(ledger, world)
    ledger.commissions.publish_policy(ADMIN, world.brand_id, guide_rate(500, NOVEMBER_1))
    mature_and_close_november(ledger, world, clock)

    ledger.commission_views.rebuild(world.brand_id)  # the rules as published
    ledger.commission_views.wait()
    [guide] = [
        d for d in ledger.commission_views.diff(world.brand_id) if d.payee == guide_key(world)
    ]
    assert (guide.period, guide.correction_period) == ("2026-11", "2026-12")


def test_discarding_a_candidate_keeps_the_serving_view_and_books_nothing(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    delivered_order(ledger, world)
    before, events = view(ledger, world, "2026-11"), event_count(ledger)
    ledger.commission_views.rebuild(world.brand_id, guide_rate(500, NOVEMBER_1))
    ledger.commission_views.wait()
    kept = ledger.commission_views.discard(world.brand_id)
    assert kept.number == 1
    assert ledger.commission_views.candidate(world.brand_id).number is None
    assert view(ledger, world, "2026-11") == before
    assert event_count(ledger) == events
    with pytest.raises(NotFound):
        ledger.commission_views.diff(world.brand_id)


def corrected_after_a_partial_refund(ledger: Ledger, world: World) -> tuple[object, UUID]:
    """An order delivered, one 5,900 fen unit returned and refunded, then the sale moved to
    another guide at the other store: the new payees earn on the 25,800 fen kept."""
    other = ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-009", "Sun Li", world.other_store_id
    ).id
    order_id = delivered_order(ledger, world)
    ledger.orders.return_items(
        Command("support"), order_id, return_id="r1", line_no=2, quantity=1, reason="size"
    )
    ledger.orders.refund(Command("finance"), order_id, "f1", 5_900)
    ledger.projections.process_all()
    ledger.corrections.correct(
        Command("support"), order_id, guide_id=other, store_id=None, reason="wrong QR"
    )
    ledger.projections.process_all()
    return order_id, other


def test_a_corrected_order_shows_what_the_ledger_reaccrued_and_a_candidate_recomputes_it(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    order_id, other = corrected_after_a_partial_refund(ledger, world)

    accrual = ledger.commissions.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
    shown = {payee: fen for payee, fen in view(ledger, world, "2026-11").items() if fen}
    assert shown == {payee: fen for payee, fen in accrual.outstanding.items() if fen}
    new_guide = Payee(PayeeLevel.GUIDE, other).key
    assert shown[new_guide] == 774  # 951 x 25,800 / 31,700
    assert guide_key(world) not in shown  # the first guide gave it all back

    ledger.commission_views.rebuild(world.brand_id, guide_rate(500, clock.now()))
    ledger.commission_views.wait()
    lines = {line.payee: line for line in ledger.commission_views.diff(world.brand_id)}
    assert (lines[new_guide].old_fen, lines[new_guide].new_fen) == (774, 1290)  # 1585 pro rata
    assert [order.order_id for order in lines[new_guide].orders] == [order_id]


def without_facts(commissions: CommissionApplication, stored: StoredEvent) -> StoredEvent:
    """A commission event as stored before accruals recorded the order's facts (in JSON:
    that was before events were stored by their declared types, too)."""
    state = json.loads(as_stored_in_json(commissions, stored).state)
    state.pop("facts", None)
    return replace(stored, state=json.dumps(state).encode())


def without_paid_at(commissions: CommissionApplication, stored: StoredEvent) -> StoredEvent:
    """A commission event as stored before the order's facts named when it was paid."""
    state = json.loads(as_stored_in_json(commissions, stored).state)
    if "facts" in state:
        state["facts"]["_data_"].pop("paid_at")
    return replace(stored, state=json.dumps(state).encode())


Rewrite = Callable[[CommissionApplication, StoredEvent], StoredEvent]


def as_recorded_before(source: Ledger, clock: ManualClock, rewrite: Rewrite) -> Ledger:
    """A ledger holding the source's organisation and its commission log as `rewrite` says
    it would have been stored before."""
    copy = bootstrap(Settings(persistence=Persistence.MEMORY), clock)
    for source_app, copy_app, rewritten in (
        (source.organisation, copy.organisation, lambda stored: stored),
        (source.commissions, copy.commissions, partial(rewrite, source.commissions)),
    ):
        logged = source_app.recorder.select_notifications(start=1, limit=100_000)
        copy_app.recorder.insert_events([rewritten(n) for n in logged])
    return copy


@pytest.mark.parametrize("rewrite", [without_facts, without_paid_at])
def test_accruals_recorded_before_their_facts_named_the_payment_show_and_balance_as_recorded(
    clock: ManualClock, rewrite: Rewrite
) -> None:
    with bootstrap(Settings(persistence=Persistence.MEMORY), clock) as ledger:
        world = build_world(ledger)
        without_bonus(ledger, world, clock)
        delivered_order(ledger, world)
        corrected_after_a_partial_refund(ledger, world)
        stored = ledger.commissions.recorder.select_notifications(start=1, limit=100_000)
        decoded = map(ledger.commissions.mapper.to_domain_event, stored)
        assert any("facts" in vars(event) for event in decoded)
        with as_recorded_before(ledger, clock, rewrite) as old:
            assert view(old, world, "2026-11") == view(ledger, world, "2026-11")
            assert old.commissions.trial_balance(world.brand_id) == (
                ledger.commissions.trial_balance(world.brand_id)
            )
            old.commission_views.rebuild(world.brand_id, guide_rate(500, clock.now()))
            old.commission_views.wait()
            assert old.commission_views.diff(world.brand_id) == []  # nothing to recompute from
            report = old.settlement_audit().run(world.brand_id, "2026-11")
            assert report.clean
            assert (report.accruals_checked == 0) is (rewrite is without_facts)
