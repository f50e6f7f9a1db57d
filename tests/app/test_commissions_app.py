"""The commission ledger on every backend: accrue, mature, close, pay, claw back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from guideledger.commissions.domain.ledger import LedgerError
from guideledger.commissions.domain.rules import CommissionPolicy, Payee, PayeeLevel, RateRule
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.periods import PeriodClosed
from guideledger.platform.clock import ManualClock
from tests.world import (
    ADMIN,
    FRONTEND,
    PRICES,
    World,
    add_stocked_northern_warehouse,
    build_world,
    order_total,
    pay,
    place_order,
)

FINANCE = Command("finance:chen")
# 31,700 fen at the default rates: guide 3%, store 1%, district 0.3%, region 0.2%, branch 0.5%
GUIDE_SHARE = 951
EXPECTED = {"guide": 951, "store": 317, "district": 95, "region": 63, "branch": 159}


def without_bonus(ledger: Ledger, world: World, clock: ManualClock) -> None:
    """These tests follow one order's commission; the top-guide bonus has its own test."""
    policy = CommissionPolicy(top_guide_bonus_fen=0, effective_from=clock.now())
    ledger.commissions.publish_policy(ADMIN, world.brand_id, policy)


def delivered_order(ledger: Ledger, world: World) -> UUID:
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.orders.ship(FRONTEND, order_id, "p1", world.store_id, {1: 2, 2: 1})
    ledger.orders.deliver(FRONTEND, order_id, "p1")
    ledger.projections.process_all()
    return order_id


def mature_and_close_november(ledger: Ledger, world: World, clock: ManualClock) -> None:
    """The return window passes, commissions mature, and November is closed on 1 December."""
    clock.advance(timedelta(days=7))
    ledger.commissions.mature_due()
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")


def guide_key(world: World) -> str:
    return Payee(PayeeLevel.GUIDE, world.guide_id).key


def assert_books_balance(ledger: Ledger, world: World) -> None:
    total, _accounts = ledger.commissions.trial_balance(world.brand_id)
    assert total == 0


def test_a_paid_order_accrues_pending_commission_per_payee(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.projections.process_all()
    assert ledger.commissions.balances(guide_key(world)) == {"pending": GUIDE_SHARE}
    _total, accounts = ledger.commissions.trial_balance(world.brand_id)
    expense = accounts[f"brand:{world.brand_id}:commission_expense"]
    assert expense == sum(EXPECTED.values())
    assert_books_balance(ledger, world)


def test_commission_matures_after_the_return_window_then_closes_and_is_paid(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    delivered_order(ledger, world)
    clock.advance(timedelta(days=6))
    assert ledger.commissions.mature_due() == 0
    clock.advance(timedelta(days=1))
    assert ledger.commissions.mature_due() == 1
    assert ledger.commissions.balances(guide_key(world)) == {
        "pending": 0,
        "settleable": GUIDE_SHARE,
    }

    with pytest.raises(RuleViolated):
        ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # after midnight in Shanghai
    closed = ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")
    assert guide_key(world) in closed
    statement = ledger.commissions.statement(guide_key(world), "2026-11")
    assert statement.closed
    lines = ledger.commissions.statement_lines(statement)
    assert statement.total_fen == GUIDE_SHARE == sum(line.amount_fen for line in lines)
    assert lines[0].order_id is not None
    assert lines[0].rule_version == 1  # the version published by without_bonus

    with pytest.raises(LedgerError):
        ledger.commissions.pay_out(FINANCE, guide_key(world), "2026-11", GUIDE_SHARE - 1, "BANK-1")
    ledger.commissions.pay_out(FINANCE, guide_key(world), "2026-11", GUIDE_SHARE, "BANK-1")
    assert ledger.commissions.balances(guide_key(world))["payable"] == 0
    assert_books_balance(ledger, world)
    with pytest.raises(RuleViolated):
        ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")


def test_a_return_after_the_close_is_clawed_back_in_the_next_period(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    order_id = delivered_order(ledger, world)
    mature_and_close_november(ledger, world, clock)

    clock.advance(timedelta(days=2))
    ledger.orders.return_items(
        Command("support"), order_id, return_id="r1", line_no=2, quantity=1, reason="late"
    )
    ledger.projections.process_all()
    december = ledger.commissions.statement(guide_key(world), "2026-12")
    [clawback] = ledger.commissions.statement_lines(december)
    assert clawback.kind == "clawback"
    # 5,900 of 31,700 came back: the guide gives back 3% of it, rounded by largest remainder.
    assert -clawback.amount_fen == pytest.approx(GUIDE_SHARE * PRICES[1] / order_total(), abs=1)
    assert_books_balance(ledger, world)


def test_a_negative_statement_is_carried_forward(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    order_id = delivered_order(ledger, world)
    mature_and_close_november(ledger, world, clock)
    ledger.commissions.pay_out(FINANCE, guide_key(world), "2026-11", GUIDE_SHARE, "BANK-1")
    clock.advance(timedelta(days=2))
    for line_no, quantity in ((1, 2), (2, 1)):
        ledger.orders.return_items(
            Command("support"),
            order_id,
            return_id=f"r{line_no}",
            line_no=line_no,
            quantity=quantity,
            reason="all back",
        )
    ledger.projections.process_all()
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-12")
    december = ledger.commissions.statement(guide_key(world), "2026-12")
    assert december.total_fen == -GUIDE_SHARE
    january = ledger.commissions.statement(guide_key(world), "2027-01")
    assert [
        (line.kind, line.amount_fen) for line in ledger.commissions.statement_lines(january)
    ] == [("brought_forward", -GUIDE_SHARE)]
    assert_books_balance(ledger, world)


def test_a_cancelled_order_reverses_everything_it_accrued(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.orders.cancel(FRONTEND, order_id, "out of stock after all")
    ledger.projections.process_all()
    assert ledger.commissions.balances(guide_key(world)) == {"pending": 0}
    _total, accounts = ledger.commissions.trial_balance(world.brand_id)
    assert accounts[f"brand:{world.brand_id}:commission_expense"] == 0


def test_rates_by_category_and_channel_use_the_version_in_force_when_paid(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    policy = CommissionPolicy(
        rates=(
            RateRule(PayeeLevel.GUIDE, 300),
            RateRule(PayeeLevel.GUIDE, 500, category="footwear"),
            RateRule(PayeeLevel.GUIDE, 800, category="footwear", channel="guide_share_link"),
        ),
        effective_from=clock.now(),
    )
    assert ledger.commissions.publish_policy(ADMIN, world.brand_id, policy).version == 1
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.projections.process_all()
    assert ledger.commissions.balances(guide_key(world)) == {"pending": 2536}  # 8% of 31,700


def test_a_correction_is_refused_once_the_orders_period_is_closed(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    order_id = delivered_order(ledger, world)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")
    with pytest.raises(PeriodClosed):
        ledger.corrections.correct(
            Command("support"),
            order_id,
            guide_id=None,
            store_id=world.other_store_id,
            reason="too late",
        )


def test_cross_branch_fulfilment_credits_the_shipping_branch_a_fee(ledger: Ledger) -> None:
    world = build_world(ledger, stocked=False)
    north, _warehouse = add_stocked_northern_warehouse(ledger, world)
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.projections.process_all()
    # 2% of the 31,700 fen the Beijing warehouse ships for the East branch's sale
    assert ledger.commissions.balances(Payee(PayeeLevel.BRANCH, north).key) == {"pending": 634}
    east = ledger.commissions.balances(Payee(PayeeLevel.BRANCH, world.branch_id).key)
    assert east == {"pending": EXPECTED["branch"]}
