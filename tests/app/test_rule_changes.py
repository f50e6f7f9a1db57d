"""Commission rules changed after the fact: a version may take effect in the past while
every period it reaches is open; the orders it reaches are corrected by promoting a
rebuild of the brand's commission view, never by rewriting what was booked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.commissions.application.base import COMMISSION
from guideledger.commissions.application.commission_view import OrderDiff
from guideledger.commissions.domain.ledger import CommissionAccrual, StatementLine
from guideledger.commissions.domain.rules import (
    DEFAULT_RATES,
    CommissionPolicy,
    Payee,
    PayeeLevel,
    RateRule,
)
from guideledger.composition import Ledger
from guideledger.kernel.errors import Conflict
from guideledger.kernel.periods import PeriodClosed
from guideledger.kernel.policies import PolicyBook
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import (
    FINANCE,
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
from tests.conftest import START
from tests.world import (
    ADMIN,
    FRONTEND,
    PRICES,
    SHANGHAI,
    World,
    build_world,
    event_count,
    pay,
    receive,
)

# 1 November 2026 00:00 in Shanghai, the brands' zone
NOVEMBER_1 = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
OCTOBER_15 = datetime(2026, 10, 15, tzinfo=UTC)


def guide_rate(rate_bp: int, effective_from: datetime) -> CommissionPolicy:
    """Rules paying the guide `rate_bp`, the store 1% and nobody else; no bonus."""
    rates = (RateRule(PayeeLevel.GUIDE, rate_bp), RateRule(PayeeLevel.STORE, 100))
    return CommissionPolicy(rates=rates, top_guide_bonus_fen=0, effective_from=effective_from)


def test_commission_rules_may_take_effect_in_a_past_period_that_is_open(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    assert clock.now() > NOVEMBER_1
    draft = CommissionPolicy(top_guide_bonus_fen=0, effective_from=OCTOBER_15)
    assert ledger.commissions.publish_policy(ADMIN, world.brand_id, draft).version == 1
    [published] = ledger.commissions.policies(world.brand_id)
    assert published.effective_from == OCTOBER_15


def test_commission_rules_reaching_a_closed_period_are_refused_and_nothing_is_written(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-10")
    before = event_count(ledger)
    draft = CommissionPolicy(top_guide_bonus_fen=0, effective_from=OCTOBER_15)
    with pytest.raises(PeriodClosed) as refused:
        ledger.commissions.publish_policy(ADMIN, world.brand_id, draft)
    assert refused.value.extensions["period"] == "2026-10"
    assert "2026-10" in refused.value.detail
    assert event_count(ledger) == before
    assert ledger.commissions.policies(world.brand_id) == []

    from_november = CommissionPolicy(top_guide_bonus_fen=0, effective_from=NOVEMBER_1)
    assert ledger.commissions.publish_policy(ADMIN, world.brand_id, from_november).version == 1


OCTOBER_20 = datetime(2026, 10, 20, tzinfo=UTC)
OCTOBER_30 = datetime(2026, 10, 30, tzinfo=UTC)
GUIDE_AT_5_PERCENT = 1585  # 5% of 31,700 fen, where the default rules pay 951


def view(ledger: Ledger, world: World, period: str) -> dict[str, int]:
    rows = ledger.commission_views.serving(world.brand_id, period)
    return {row["payee"]: row["amount_fen"] for row in rows}


def paid_order(ledger: Ledger, world: World, sku_id: UUID, price_fen: int) -> UUID:
    """One unit of the SKU through the guide's share link, paid now."""
    order_id = ledger.orders.place_order(
        FRONTEND,
        brand_id=world.brand_id,
        member_id=world.member_id,
        lines=[LineRequest(sku_id, 1, price_fen)],
        delivery=DeliveryRequest("1 Nanjing Road, Shanghai", SHANGHAI),
        evidence=AttributionEvidence(Channel.GUIDE_SHARE_LINK, guide_id=world.guide_id),
    ).id
    pay(ledger, order_id)
    return order_id


def test_a_proposal_from_1_november_changes_only_the_orders_paid_since_in_its_category(
    ledger: Ledger, clock: ManualClock
) -> None:
    clock.set(OCTOBER_20)
    world = build_world(ledger)
    apparel = ledger.organisation.register_sku(
        ADMIN, brand_id=world.brand_id, code="TEE", name="Tee", category="apparel", price_fen=10_000
    ).id
    receive(ledger, world.store_id, apparel, 5)
    shoes, shoe_price = world.sku_ids[0], PRICES[0]
    clock.set(OCTOBER_30)
    paid_order(ledger, world, shoes, shoe_price)
    clock.set(START)  # 2 November
    november = paid_order(ledger, world, shoes, shoe_price)
    paid_order(ledger, world, apparel, 10_000)
    footwear_at_8 = CommissionPolicy(
        rates=(*DEFAULT_RATES, RateRule(PayeeLevel.GUIDE, 800, category="footwear")),
        effective_from=NOVEMBER_1,
    )

    ledger.commission_views.rebuild(world.brand_id, footwear_at_8)
    ledger.commission_views.wait()
    [line] = ledger.commission_views.diff(world.brand_id)
    assert (line.payee, line.period, line.correction_period) == (
        guide_key(world),
        "2026-11",
        "2026-11",
    )
    assert line.orders == (OrderDiff(november, 387, 1032),)  # 3% and 8% of 12,900 fen
    assert (line.old_fen, line.new_fen) == (387 + 300, 1032 + 300)  # the tee's 3% stays


def test_brands_rebuild_at_once_and_promoting_one_leaves_the_other_alone(
    ledger: Ledger, clock: ManualClock
) -> None:
    acme, beta = build_world(ledger), build_world(ledger, code="BETA")
    for world in (acme, beta):
        without_bonus(ledger, world, clock)
        delivered_order(ledger, world)
    beta_view, beta_rules = (
        view(ledger, beta, "2026-11"),
        ledger.commissions.policies(beta.brand_id),
    )
    for world in (acme, beta):
        ledger.commission_views.rebuild(world.brand_id, guide_rate(500, clock.now()))
    ledger.commission_views.wait()
    assert len(ledger.commission_views.candidate_names()) == 2
    beta_diff = ledger.commission_views.diff(beta.brand_id)
    assert {line.payee for line in beta_diff} >= {guide_key(beta)}
    assert guide_key(acme) not in {line.payee for line in beta_diff}

    ledger.commission_views.promote(ADMIN, acme.brand_id)
    assert view(ledger, acme, "2026-11")[guide_key(acme)] == GUIDE_AT_5_PERCENT
    assert view(ledger, beta, "2026-11") == beta_view
    assert ledger.commissions.policies(beta.brand_id) == beta_rules
    assert ledger.commission_views.candidate(beta.brand_id).number == 1
    assert ledger.commission_views.diff(beta.brand_id) == beta_diff


def statement_lines(ledger: Ledger, payee: str, period: str) -> list[StatementLine]:
    return ledger.commissions.statement_lines(ledger.commissions.statement(payee, period))


def test_promoting_books_each_difference_as_correction_lines_and_the_audit_is_clean(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    settled = delivered_order(ledger, world)
    proposal = guide_rate(500, clock.now())
    clock.advance(timedelta(days=7))
    ledger.commissions.mature_due()
    pending = paid_order(ledger, world, world.sku_ids[0], PRICES[0])
    ledger.commission_views.rebuild(world.brand_id, proposal)
    ledger.commission_views.wait()

    ledger.commission_views.promote(ADMIN, world.brand_id)
    assert [p.version for p in ledger.commissions.policies(world.brand_id)] == [1, 2]
    assert ledger.commissions.trial_balance(world.brand_id)[0] == 0
    guide = guide_key(world)
    [maturity, correction] = statement_lines(ledger, guide, "2026-11")
    assert (maturity.amount_fen, correction.kind, correction.amount_fen) == (951, "correction", 634)
    assert (correction.order_id, correction.rule_version, correction.previous_rule_version) == (
        settled,
        2,
        1,
    )
    book = PolicyBook.create_id(world.brand_id, COMMISSION)
    assert correction.source_events == (maturity.source_events[0], f"{book}:3")
    district = Payee(PayeeLevel.DISTRICT, world.district_id).key
    assert [line.amount_fen for line in statement_lines(ledger, district, "2026-11")] == [95, -95]
    # the ledger, the view and the statements agree: the pending order has no line yet
    assert ledger.commissions.balances(guide) == {"settleable": 1585, "pending": 645}
    assert view(ledger, world, "2026-11")[guide] == GUIDE_AT_5_PERCENT + 645  # 5% of 12,900
    assert ledger.commissions.balances(district) == {"settleable": 0, "pending": 0}

    ledger.orders.ship(FRONTEND, pending, "p1", world.store_id, {1: 1})
    ledger.orders.deliver(FRONTEND, pending, "p1")
    ledger.projections.process_all()
    mature_and_close_november(ledger, world, clock)
    lines = statement_lines(ledger, guide, "2026-11")
    assert [line.amount_fen for line in lines] == [951, 634, 645]
    assert sum(line.amount_fen for line in lines) == view(ledger, world, "2026-11")[guide]
    report = ledger.settlement_audit().run(world.brand_id, "2026-11")
    assert report.clean, report.mismatches
    assert guide in report.matched
    ledger.commission_views.rebuild(world.brand_id)  # the rules as now published
    ledger.commission_views.wait()
    assert ledger.commission_views.diff(world.brand_id) == []


def test_a_promotion_is_refused_once_the_brands_rules_changed_and_books_nothing(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    delivered_order(ledger, world)
    ledger.commission_views.rebuild(world.brand_id, guide_rate(500, NOVEMBER_1))
    ledger.commission_views.wait()
    ledger.commissions.publish_policy(ADMIN, world.brand_id, guide_rate(400, clock.now()))
    before = event_count(ledger)
    with pytest.raises(Conflict):
        ledger.commission_views.promote(ADMIN, world.brand_id)
    assert event_count(ledger) == before
    assert ledger.commission_views.candidate(world.brand_id).number == 1


def test_a_proposal_reaching_a_closed_period_is_refused(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-10")
    with pytest.raises(PeriodClosed):
        ledger.commission_views.rebuild(world.brand_id, guide_rate(500, OCTOBER_15))
    assert ledger.commission_views.candidate(world.brand_id).number is None


def test_a_closed_periods_difference_is_booked_in_the_next_open_one_and_both_audit_clean(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    order_id = delivered_order(ledger, world)
    ledger.commissions.publish_policy(ADMIN, world.brand_id, guide_rate(500, NOVEMBER_1))
    mature_and_close_november(ledger, world, clock)  # before the difference was booked
    november = statement_lines(ledger, guide_key(world), "2026-11")
    ledger.commission_views.rebuild(world.brand_id)  # the rules as published
    ledger.commission_views.wait()

    ledger.commission_views.promote(ADMIN, world.brand_id)
    assert statement_lines(ledger, guide_key(world), "2026-11") == november  # never changes
    [correction] = statement_lines(ledger, guide_key(world), "2026-12")
    assert (correction.kind, correction.amount_fen, correction.order_id) == (
        "correction",
        GUIDE_AT_5_PERCENT - 951,
        order_id,
    )
    assert view(ledger, world, "2026-11")[guide_key(world)] == GUIDE_AT_5_PERCENT
    assert ledger.commissions.trial_balance(world.brand_id)[0] == 0
    for period in ("2026-11", "2026-12"):
        report = ledger.settlement_audit().run(world.brand_id, period)
        assert report.clean, report.mismatches


def test_the_audit_reports_a_correction_the_rules_it_names_do_not_give(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)  # version 1
    order_id = delivered_order(ledger, world)
    accrual = ledger.commissions.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
    forged = replace(guide_rate(900, clock.now()), version=1)  # not what version 1 pays
    accrual.correct(forged, period="2026-11", at=clock.now(), posting_id="forged", source_events=())
    ledger.commissions.save(accrual)

    report = ledger.settlement_audit().run(world.brand_id, "2026-11")
    assert not report.clean
    [guide] = [m for m in report.mismatches if m.payee == guide_key(world)]
    assert guide.what == f"correction on order {order_id} (pending)"
    assert (guide.stored_fen, guide.replayed_fen) == (2853 - 951, 0)  # 9% of 31,700 fen
