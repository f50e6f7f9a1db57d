"""The commission view and its blue/green rebuild: the serving version follows the
ledger; a candidate under other rules is built beside it, diffed, promoted or discarded."""

from __future__ import annotations

import pytest

from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import CommissionPolicy, Payee, PayeeLevel, RateRule
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import Conflict, NotFound
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import (
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
from tests.world import ADMIN, World, build_world

GUIDE_AT_5_PERCENT = 1585  # 31,700 fen at 500 basis points


def view(ledger: Ledger, world: World, period: str) -> dict[str, int]:
    rows = ledger.commission_views.serving(world.brand_id, period)
    return {row["payee"]: row["amount_fen"] for row in rows}


def publish_guide_rate(ledger: Ledger, world: World, clock: ManualClock, rate_bp: int) -> int:
    rates = (RateRule(PayeeLevel.GUIDE, rate_bp), RateRule(PayeeLevel.STORE, 100))
    policy = CommissionPolicy(rates=rates, top_guide_bonus_fen=0, effective_from=clock.now())
    return ledger.commissions.publish_policy(ADMIN, world.brand_id, policy).version


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


def test_rebuild_under_new_rules_diffs_then_promotes_atomically(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    delivered_order(ledger, world)
    delivered_order(ledger, world)
    before = view(ledger, world, "2026-11")
    new_rules = publish_guide_rate(ledger, world, clock, 500)

    candidate = ledger.commission_views.rebuild(new_rules)
    with pytest.raises(Conflict):
        ledger.commission_views.rebuild(new_rules)
    ledger.commission_views.wait()
    assert view(ledger, world, "2026-11") == before  # the serving version still serves

    guide = guide_key(world)
    lines = {line.payee: line for line in ledger.commission_views.diff(world.brand_id)}
    assert (lines[guide].old_fen, lines[guide].new_fen) == (2 * 951, 2 * GUIDE_AT_5_PERCENT)
    assert lines[guide].difference_fen == 2 * (GUIDE_AT_5_PERCENT - 951)
    assert lines[guide].orders_affected == 2
    assert lines[guide].correction_period == "2026-11"
    district = Payee(PayeeLevel.DISTRICT, world.district_id).key
    assert lines[district].new_fen == 0  # the new rules pay districts nothing

    promoted = ledger.commission_views.promote()
    assert promoted.serving == candidate
    assert view(ledger, world, "2026-11")[guide] == 2 * GUIDE_AT_5_PERCENT
    with pytest.raises(NotFound):
        ledger.commission_views.promote()


def test_a_closed_periods_difference_is_due_in_the_next_open_period(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    delivered_order(ledger, world)
    mature_and_close_november(ledger, world, clock)
    new_rules = publish_guide_rate(ledger, world, clock, 500)

    ledger.commission_views.rebuild(new_rules)
    ledger.commission_views.wait()
    [guide] = [
        d for d in ledger.commission_views.diff(world.brand_id) if d.payee == guide_key(world)
    ]
    assert (guide.period, guide.correction_period) == ("2026-11", "2026-12")


def test_discarding_a_candidate_keeps_the_serving_version(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    delivered_order(ledger, world)
    before = view(ledger, world, "2026-11")
    ledger.commission_views.rebuild(publish_guide_rate(ledger, world, clock, 500))
    ledger.commission_views.wait()
    kept = ledger.commission_views.discard()
    assert kept.serving == 1
    assert kept.candidate is None
    assert view(ledger, world, "2026-11") == before
    with pytest.raises(NotFound):
        ledger.commission_views.diff(world.brand_id)
