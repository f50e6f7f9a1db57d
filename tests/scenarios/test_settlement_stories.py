"""Settlement stories from DOMAIN.md, told through the applications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.commissions.domain.rules import Payee, PayeeLevel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.periods import SettlementCadence
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.organisation.domain.brand import Brand
from guideledger.platform.clock import ManualClock
from tests.world import ADMIN, GROUP_ID, PRICES, SHANGHAI, World, build_world, pay, receive

FINANCE = Command("finance:chen")


def sell(
    ledger: Ledger,
    world: World,
    evidence: AttributionEvidence,
    quantity: int = 1,
    member: str = "M0001",
) -> UUID:
    """Places, pays, ships and delivers `quantity` of the first SKU."""
    member_id = (
        ledger.organisation.register_member(
            ADMIN, group_id=GROUP_ID, member_no=member, name=member, phone="13800000000"
        ).id
        if member != "M0001"
        else world.member_id
    )
    order_id = ledger.orders.place_order(
        Command("frontend"),
        brand_id=world.brand_id,
        member_id=member_id,
        lines=[LineRequest(world.sku_ids[0], quantity, PRICES[0])],
        delivery=DeliveryRequest("x", SHANGHAI),
        evidence=evidence,
    ).id
    pay(ledger, order_id, quantity * PRICES[0])
    [allocation] = ledger.orders.get_order(order_id).allocations
    ledger.orders.ship(Command("store"), order_id, "p1", allocation.node_id, {1: quantity})
    ledger.orders.deliver(Command("carrier"), order_id, "p1")
    return order_id


def settle(
    ledger: Ledger, world: World, clock: ManualClock, period: str, close_at: datetime
) -> list[str]:
    """A week on the commissions mature; then finance closes the period."""
    clock.advance(timedelta(days=8))
    ledger.projections.process_all()
    ledger.commissions.mature_due()
    clock.set(close_at)
    return ledger.commissions.close_period(FINANCE, world.brand_id, period)


def test_a_store_account_guides_share_is_handed_back_at_month_end_not_a_cent_less(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    note = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note="Wang Fang"
    )
    order_id = sell(ledger, world, note, quantity=3)  # 38,700 fen
    guide = Payee(PayeeLevel.GUIDE, world.guide_id)
    store = Payee(PayeeLevel.STORE, world.store_id)
    ledger.projections.process_all()
    assert ledger.commissions.balances(guide.key) == {}  # it all waits at the store
    settle(ledger, world, clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))

    guide_statement = ledger.commissions.statement(guide.key, "2026-11")
    lines = ledger.commissions.statement_lines(guide_statement)
    [handback] = [line for line in lines if line.kind == "handback"]
    assert handback.amount_fen == 1_161  # 3% of 38,700, to the fen
    assert (handback.order_id, handback.rule_version) == (order_id, 0)
    assert ledger.commissions.balances(store.key)[f"held:{world.guide_id}"] == 0
    store_statement = ledger.commissions.statement(store.key, "2026-11")
    store_lines = ledger.commissions.statement_lines(store_statement)
    assert [(line.kind, line.amount_fen, line.held is not None) for line in store_lines] == [
        ("maturity", 387, False),  # the store's own 1%
        ("maturity", 1_161, True),  # the guide's share, held
        ("handback", -1_161, True),  # and handed back
    ]
    _own, held, handed = store_lines
    assert {held.order_id, handed.order_id} == {order_id}
    assert handed.posting_id == handback.posting_id
    held_event = f"{store_statement.id}:3"  # opened, the own line, then the held one
    assert handback.source_events == handed.source_events == (held_event,)
    assert store_statement.total_fen == 387  # the store keeps only its own 1%
    total, _ = ledger.commissions.trial_balance(world.brand_id)
    assert total == 0
    assert ledger.settlement_audit().run(world.brand_id, "2026-11").clean


def test_a_return_after_the_hand_back_is_handed_on_to_the_guide_at_the_next_close(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    note = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note="Wang Fang"
    )
    order_id = sell(ledger, world, note, quantity=3)
    settle(ledger, world, clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    clock.advance(timedelta(days=3))
    ledger.orders.return_items(
        Command("support"), order_id, return_id="RMA-1", line_no=1, quantity=3, reason="faulty"
    )
    ledger.projections.process_all()
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-12")

    guide = Payee(PayeeLevel.GUIDE, world.guide_id)
    store = Payee(PayeeLevel.STORE, world.store_id)
    december = ledger.commissions.statement_lines(
        ledger.commissions.statement(guide.key, "2026-12")
    )
    assert [(line.kind, line.amount_fen, line.order_id) for line in december] == [
        ("handback", -1_161, order_id)  # the clawback of the share handed back in November
    ]
    store_december = ledger.commissions.statement_lines(
        ledger.commissions.statement(store.key, "2026-12")
    )
    assert [(line.kind, line.amount_fen, line.held is not None) for line in store_december] == [
        ("clawback", -387, False),
        ("clawback", -1_161, True),
        ("handback", 1_161, True),
    ]
    assert ledger.commissions.balances(store.key)[f"held:{world.guide_id}"] == 0
    total, _ = ledger.commissions.trial_balance(world.brand_id)
    assert total == 0
    for period in ("2026-11", "2026-12"):
        assert ledger.settlement_audit().run(world.brand_id, period).clean


def test_a_return_after_the_month_closed_is_clawed_back_from_every_payee(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    order_id = sell(
        ledger, world, AttributionEvidence(Channel.GUIDE_QR, guide_id=world.guide_id), 2
    )
    settle(ledger, world, clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    clock.advance(timedelta(days=3))
    ledger.orders.return_items(
        Command("support"), order_id, return_id="RMA-9", line_no=1, quantity=2, reason="faulty"
    )
    ledger.projections.process_all()
    for level, payee_id in ((PayeeLevel.GUIDE, world.guide_id), (PayeeLevel.STORE, world.store_id)):
        payee = Payee(level, payee_id)
        november = ledger.commissions.statement(payee.key, "2026-11")
        november_lines = ledger.commissions.statement_lines(november)
        earned = sum(line.amount_fen for line in november_lines if line.kind == "maturity")
        december = ledger.commissions.statement_lines(
            ledger.commissions.statement(payee.key, "2026-12")
        )
        assert [(line.kind, line.amount_fen) for line in december] == [("clawback", -earned)]
    total, _ = ledger.commissions.trial_balance(world.brand_id)
    assert total == 0


def test_a_quarterly_brand_settles_per_quarter(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger, cadence=SettlementCadence.QUARTERLY)
    sell(ledger, world, AttributionEvidence(Channel.GUIDE_QR, guide_id=world.guide_id))
    clock.advance(timedelta(days=8))
    ledger.projections.process_all()
    ledger.commissions.mature_due()
    clock.set(datetime(2026, 12, 2, tzinfo=UTC))
    with pytest.raises(InvalidValue):
        ledger.commissions.close_period(FINANCE, world.brand_id, "2026-11")
    closed = settle(ledger, world, clock, "2026-Q4", datetime(2027, 1, 1, tzinfo=UTC))
    guide = Payee(PayeeLevel.GUIDE, world.guide_id)
    assert guide.key in closed
    statement = ledger.commissions.statement(guide.key, "2026-Q4")
    assert statement.closed
    assert statement.total_fen > 0


def test_the_top_five_percent_of_guides_earn_the_bonus(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    receive(ledger, world.store_id, world.sku_ids[0], 100)
    guides = [world.guide_id] + [
        ledger.organisation.hire_guide(
            ADMIN, world.brand_id, f"G-{n:03d}", f"Guide {n}", world.store_id
        ).id
        for n in range(2, 22)
    ]  # 21 guides: the top 5% is ceil(1.05) = 2 of them
    for n, guide_id in enumerate(guides, start=1):
        sell(
            ledger,
            world,
            AttributionEvidence(Channel.GUIDE_QR, guide_id=guide_id),
            n % 3 + 1,
            f"M{n:04d}",
        )
    settle(ledger, world, clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    bonus_lines = {
        guide_id: [
            line
            for line in ledger.commissions.statement_lines(
                ledger.commissions.statement(Payee(PayeeLevel.GUIDE, guide_id).key, "2026-11")
            )
            if line.kind == "bonus"
        ]
        for guide_id in guides
    }
    winners = {g for g, lines in bonus_lines.items() if lines}
    top_sellers = {g for n, g in enumerate(guides, start=1) if n % 3 + 1 == 3}
    assert len(winners) == 2
    assert winners <= top_sellers
    assert all(line.amount_fen == 50_000 for g in winners for line in bonus_lines[g])


def test_a_cadence_change_waits_for_the_current_period_to_end(
    ledger: Ledger, clock: ManualClock
) -> None:
    """Monthly → quarterly in mid-November: November and December stay monthly (a
    quarter cannot start in December), the first quarter is 2027-Q1."""
    world = build_world(ledger)
    clock.set(datetime(2026, 11, 15, tzinfo=UTC))
    ledger.organisation.change_settlement_cadence(
        ADMIN, world.brand_id, SettlementCadence.QUARTERLY
    )
    brand = ledger.organisation.load(Brand, world.brand_id)
    assert brand.period_of(datetime(2026, 12, 20, tzinfo=UTC)) == "2026-12"
    assert brand.period_of(datetime(2027, 1, 5, tzinfo=UTC)) == "2027-Q1"
    assert brand.period_after("2026-12") == "2027-Q1"
    clock.set(datetime(2027, 1, 2, tzinfo=UTC))
    for period in ("2026-11", "2026-12"):
        ledger.commissions.close_period(FINANCE, world.brand_id, period)
    with pytest.raises(InvalidValue):
        ledger.commissions.close_period(FINANCE, world.brand_id, "2026-Q4")


def test_a_guide_who_moved_stores_gets_back_what_each_store_held_for_them(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    receive(ledger, world.other_store_id, world.sku_ids[0], 5)
    first = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note="Wang Fang"
    )
    sell(ledger, world, first, quantity=1)  # 12,900 fen, held at the first store
    ledger.organisation.transfer_guide(ADMIN, world.guide_id, world.other_store_id)
    second = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.other_store_id, guide_note="Wang Fang"
    )
    sell(ledger, world, second, quantity=2, member="M0002")  # 25,800 fen, held at the second
    settle(ledger, world, clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))

    guide = Payee(PayeeLevel.GUIDE, world.guide_id)
    lines = ledger.commissions.statement_lines(ledger.commissions.statement(guide.key, "2026-11"))
    handed_back = sorted(line.amount_fen for line in lines if line.kind == "handback")
    assert handed_back == [387, 774]  # 3% of what each store held, each in full
    for store_id in (world.store_id, world.other_store_id):
        store = Payee(PayeeLevel.STORE, store_id)
        assert ledger.commissions.balances(store.key)[f"held:{world.guide_id}"] == 0
    total, _ = ledger.commissions.trial_balance(world.brand_id)
    assert total == 0
