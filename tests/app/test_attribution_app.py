"""Attribution corrections, bindings, policies and the share funnel on every backend."""

from datetime import date, timedelta

import pytest

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import (
    AttributionChannel,
    AttributionPolicy,
    BindingMode,
    Rule,
)
from guideledger.composition import Ledger
from guideledger.engagement.domain import ShareKind
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import InvalidValue, NotFound, RuleViolated
from guideledger.platform.clock import ManualClock
from tests.world import ADMIN, FRONTEND, build_world, order_total, pay, place_order

DAY = date(2026, 11, 2)


def test_binding_happens_on_payment_not_on_placement(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = place_order(ledger, world).id
    binding_id = MemberBinding.create_id(world.member_id, world.brand_id)
    assert not ledger.orders.exists(MemberBinding, binding_id)
    pay(ledger, order_id)
    assert ledger.orders.load(MemberBinding, binding_id).guide_id == world.guide_id


def test_a_correction_moves_the_sale_and_keeps_the_history(ledger: Ledger) -> None:
    world = build_world(ledger)
    other = ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-009", "Sun Li", world.other_store_id
    ).id
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.corrections.correct(
        Command("support:zhang"), order_id, guide_id=other, store_id=None, reason="wrong QR"
    )
    order = ledger.orders.get_order(order_id)
    assert order.attribution is not None
    assert (order.attribution.guide_id, order.attribution.store_id) == (other, world.other_store_id)
    assert order.attribution.rule == "support_correction"
    assert ledger.order_history.entries(order_id)[-1].event == "AttributionCorrected"
    old = ledger.rankings.daily_sales(world.brand_id, DAY, DAY, store_id=world.store_id)
    new = ledger.rankings.daily_sales(world.brand_id, DAY, DAY, store_id=world.other_store_id)
    assert (old[0].sales.paid_orders, old[0].sales.sales_fen) == (0, 0)
    assert (new[0].sales.paid_orders, new[0].sales.sales_fen) == (1, order_total())


def test_a_correction_names_exactly_one_payee_and_changes_something(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = place_order(ledger, world).id
    with pytest.raises(InvalidValue):
        ledger.corrections.correct(FRONTEND, order_id, guide_id=None, store_id=None, reason="?")
    with pytest.raises(RuleViolated):
        ledger.corrections.correct(
            FRONTEND, order_id, guide_id=world.guide_id, store_id=None, reason="same"
        )


def test_binding_at_registration_and_support_rebinding(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    policy = AttributionPolicy(binding_mode=BindingMode.AT_REGISTRATION, effective_from=clock.now())
    ledger.attribution.publish_policy(ADMIN, world.brand_id, policy)
    other = ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun Li", world.store_id
    ).id
    ledger.bindings.bind(ADMIN, world.member_id, world.brand_id, other, "registered in store")
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    binding = ledger.bindings.current(world.member_id, world.brand_id)
    assert binding is not None
    assert binding.guide_id == other
    ledger.bindings.bind(
        Command("support"), world.member_id, world.brand_id, world.guide_id, "customer asked"
    )
    history = ledger.bindings.history(world.member_id, world.brand_id)
    assert [(h.event, h.actor) for h in history] == [("Bound", "admin:test"), ("Bound", "support")]


def test_attribution_records_the_policy_version_in_force(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    policy = AttributionPolicy(
        precedence=(Rule.STORE_ONLY, Rule.GUIDE_LINK),
        effective_from=clock.now() + timedelta(days=1),
    )
    assert ledger.attribution.publish_policy(ADMIN, world.brand_id, policy).version == 1
    before = ledger.orders.get_order(place_order(ledger, world).id).attribution
    clock.advance(timedelta(days=1))
    after = ledger.orders.get_order(place_order(ledger, world).id).attribution
    assert before is not None
    assert after is not None
    assert (before.policy_version, before.channel) == (0, AttributionChannel.GUIDE_SHARE_LINK)
    assert after.policy_version == 1
    assert [p.version for p in ledger.attribution.policies(world.brand_id)] == [1]


def test_share_funnel_counts_reach_carts_orders_and_payments(ledger: Ledger) -> None:
    world = build_world(ledger)
    _, code = ledger.engagement.share(Command("guide"), world.guide_id, ShareKind.PRODUCT_LINK)
    ledger.engagement.record_visits(Command("mall"), code, 3)
    ledger.engagement.record_add_to_carts(Command("mall"), code, 2)
    with pytest.raises(NotFound):
        ledger.engagement.record_visits(Command("mall"), "NO-SUCH-CODE", 1)
    funnel = ledger.rankings.share(code)
    assert funnel is not None
    assert (funnel.visits, funnel.add_to_carts, funnel.guide_id) == (3, 2, world.guide_id)


def test_a_guide_who_only_shared_that_day_ranks_with_no_sales(ledger: Ledger) -> None:
    world = build_world(ledger)
    ledger.engagement.share(Command("guide"), world.guide_id, ShareKind.QR_CODE)
    [rank] = ledger.rankings.guides(world.brand_id, DAY, store_id=world.store_id)
    assert (rank.guide_id, rank.shares, rank.sales.paid_orders) == (world.guide_id, 1, 0)
    [day] = ledger.rankings.funnel(world.brand_id, world.guide_id, DAY, DAY)
    assert (day.shares, day.share_orders) == (1, 0)


def test_a_guide_who_left_cannot_share_or_be_bound(ledger: Ledger) -> None:
    world = build_world(ledger)
    ledger.organisation.record_guide_left(ADMIN, world.guide_id, "resigned")
    with pytest.raises(RuleViolated):
        ledger.engagement.share(Command("guide"), world.guide_id, ShareKind.QR_CODE)
    with pytest.raises(RuleViolated):
        ledger.bindings.bind(ADMIN, world.member_id, world.brand_id, world.guide_id, "x")
