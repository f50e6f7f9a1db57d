"""Exchanges on every backend: the units come back to stock where they are received, the
replacement is reserved by routing (or waits for stock), and commission stays as it was."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, CommandResult, UnknownReference
from guideledger.kernel.periods import SettlementCadence
from guideledger.orders.domain.errors import ExchangePriceDiffers, ExchangeRefused
from guideledger.orders.domain.lines import OrderStatus
from guideledger.organisation.domain.units import NodeKind
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import (
    assert_books_balance,
    delivered_order,
    guide_key,
    without_bonus,
)
from tests.world import (
    ADMIN,
    FRONTEND,
    GROUP_ID,
    PRICES,
    SHANGHAI,
    World,
    build_world,
    event_count,
    receive,
)

SUPPORT = Command("support:li")


def same_price_sku(ledger: Ledger, world: World, code: str = "SKU-1-L") -> UUID:
    """Another size of the first SKU: same brand, same price."""
    return ledger.organisation.register_sku(
        ADMIN,
        brand_id=world.brand_id,
        code=code,
        name="SKU 1, size L",
        category="footwear",
        price_fen=PRICES[0],
    ).id


def exchange(
    ledger: Ledger, order_id: object, sku_id: UUID, node_id: UUID, exchange_id: str = "x1"
) -> CommandResult:
    """One unit of line 1 swapped for `sku_id`, received back at `node_id`."""
    assert isinstance(order_id, UUID)
    return ledger.exchanges.exchange(
        SUPPORT,
        order_id,
        exchange_id=exchange_id,
        line_no=1,
        quantity=1,
        sku_id=sku_id,
        received_at_node_id=node_id,
    )


def on_hand_and_reserved(ledger: Ledger, node_id: UUID, sku_id: UUID) -> tuple[int, int]:
    [position] = [p for p in ledger.stock.positions(node_id=node_id) if p.sku_id == sku_id]
    return position.on_hand, position.reserved


def ship_replacement(ledger: Ledger, order_id: UUID) -> None:
    order = ledger.orders.get_order(order_id)
    [allocation] = order.replacement_allocations
    quantities = {line.line_no: line.quantity for line in allocation.lines}
    ledger.orders.ship(FRONTEND, order_id, "p2", allocation.node_id, quantities)
    ledger.orders.deliver(FRONTEND, order_id, "p2")


def test_units_come_back_where_received_and_the_replacement_is_reserved_then_ships(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    size_l = same_price_sku(ledger, world)
    receive(ledger, world.other_store_id, size_l, 5)
    order_id = delivered_order(ledger, world)
    assert isinstance(order_id, UUID)

    exchange(ledger, order_id, size_l, world.warehouse_id)

    order = ledger.orders.get_order(order_id)
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert [a.node_id for a in order.replacement_allocations] == [world.other_store_id]
    assert on_hand_and_reserved(ledger, world.warehouse_id, world.sku_ids[0]) == (1, 0)
    assert on_hand_and_reserved(ledger, world.other_store_id, size_l) == (5, 1)
    ship_replacement(ledger, order_id)
    assert ledger.orders.get_order(order_id).status is OrderStatus.DELIVERED
    assert on_hand_and_reserved(ledger, world.other_store_id, size_l) == (4, 0)


def test_an_exchange_for_another_price_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = delivered_order(ledger, world)
    before = event_count(ledger)
    with pytest.raises(ExchangePriceDiffers):
        exchange(ledger, order_id, world.sku_ids[1], world.store_id)  # 5,900, not 12,900
    assert event_count(ledger) == before


def test_a_promotion_price_in_force_is_the_replacements_price(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    size_l = same_price_sku(ledger, world)
    receive(ledger, world.store_id, size_l, 5)
    order_id = delivered_order(ledger, world)
    ledger.organisation.publish_promotion(
        ADMIN,
        size_l,
        name="Double 11",
        price_fen=PRICES[0] - 1000,
        effective_from=clock.now(),
        effective_to=clock.now() + timedelta(days=1),
    )
    with pytest.raises(ExchangePriceDiffers):
        exchange(ledger, order_id, size_l, world.store_id)
    clock.advance(timedelta(days=2))
    exchange(ledger, order_id, size_l, world.store_id)


@pytest.mark.parametrize("unknown", ["sku", "node"])
def test_an_unknown_replacement_or_receiving_node_is_refused_and_writes_nothing(
    ledger: Ledger, unknown: str
) -> None:
    world = build_world(ledger)
    size_l = same_price_sku(ledger, world)
    order_id = delivered_order(ledger, world)
    before = event_count(ledger)
    with pytest.raises(UnknownReference):
        exchange(
            ledger,
            order_id,
            uuid4() if unknown == "sku" else size_l,
            uuid4() if unknown == "node" else world.store_id,
        )
    assert event_count(ledger) == before


def another_brand(ledger: Ledger) -> tuple[UUID, UUID]:
    """Another brand of the group, with a SKU at the first SKU's price and a warehouse."""
    org = ledger.organisation
    brand_id = org.register_brand(
        ADMIN, GROUP_ID, "OTHER", "Other", "Asia/Shanghai", SettlementCadence.MONTHLY
    ).id
    branch_id = org.register_branch(ADMIN, brand_id, "B1", "Branch").id
    sku_id = org.register_sku(
        ADMIN, brand_id=brand_id, code="X", name="X", category="footwear", price_fen=PRICES[0]
    ).id
    node_id = org.register_node(
        ADMIN,
        brand_id=brand_id,
        branch_id=branch_id,
        code="WH-X",
        name="X DC",
        kind=NodeKind.WAREHOUSE,
        location=SHANGHAI,
    ).id
    return sku_id, node_id


def test_a_replacement_or_receiving_node_of_another_brand_is_refused(ledger: Ledger) -> None:
    world = build_world(ledger)
    other_sku, other_node = another_brand(ledger)
    order_id = delivered_order(ledger, world)
    before = event_count(ledger)
    with pytest.raises(ExchangeRefused, match="another brand"):
        exchange(ledger, order_id, other_sku, world.store_id)
    with pytest.raises(ExchangeRefused, match="another brand"):
        exchange(ledger, order_id, same_price_sku(ledger, world), other_node)
    assert event_count(ledger) == before + 1  # the SKU registered, nothing else


def test_a_replacement_no_node_can_ship_waits_and_is_routed_when_stock_arrives(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    size_l = same_price_sku(ledger, world)
    order_id = delivered_order(ledger, world)
    assert isinstance(order_id, UUID)

    exchange(ledger, order_id, size_l, world.store_id)

    assert ledger.orders.get_order(order_id).awaiting_stock
    [waiting] = ledger.waiting_orders.of_brand(world.brand_id)
    assert waiting.order_id == order_id
    assert on_hand_and_reserved(ledger, world.store_id, world.sku_ids[0]) == (19, 0)
    receive(ledger, world.other_store_id, size_l, 1)
    order = ledger.orders.get_order(order_id)
    assert not order.awaiting_stock
    assert [a.node_id for a in order.replacement_allocations] == [world.other_store_id]
    assert ledger.waiting_orders.of_brand(world.brand_id) == []
    assert on_hand_and_reserved(ledger, world.other_store_id, size_l) == (1, 1)


def accrual_events(ledger: Ledger, order_id: UUID) -> list[str]:
    accrual_id = CommissionAccrual.create_id(order_id)
    return [type(event).__qualname__ for event in ledger.commissions.events.get(accrual_id)]


def test_commission_is_neither_reversed_nor_doubled_by_an_exchange(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    size_l = same_price_sku(ledger, world)
    receive(ledger, world.store_id, size_l, 5)
    order_id = delivered_order(ledger, world)
    assert isinstance(order_id, UUID)
    balances = ledger.commissions.balances(guide_key(world))
    trial = ledger.commissions.trial_balance(world.brand_id)
    facts = ledger.commissions.order_facts(ledger.orders.get_order(order_id))
    story = accrual_events(ledger, order_id)

    clock.advance(timedelta(days=3))
    exchange(ledger, order_id, size_l, world.store_id)
    clock.advance(timedelta(days=2))
    ship_replacement(ledger, order_id)
    ledger.projections.process_all()

    assert ledger.commissions.balances(guide_key(world)) == balances
    assert ledger.commissions.trial_balance(world.brand_id) == trial
    assert accrual_events(ledger, order_id) == story
    # A correction's re-accrual would count the sale as it was sold.
    assert ledger.commissions.order_facts(ledger.orders.get_order(order_id)) == facts
    clock.advance(timedelta(days=2))  # 7 days after the sale was delivered
    assert ledger.commissions.mature_due() == 1
    assert_books_balance(ledger, world)


def test_returning_a_replacement_reverses_what_returning_the_unit_it_replaced_would(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    size_l = same_price_sku(ledger, world)
    receive(ledger, world.store_id, size_l, 5)
    exchanged, returned = delivered_order(ledger, world), delivered_order(ledger, world)
    assert isinstance(exchanged, UUID)
    assert isinstance(returned, UUID)
    exchange(ledger, exchanged, size_l, world.store_id)
    ship_replacement(ledger, exchanged)
    replacement_line = ledger.orders.get_order(exchanged).replacements[0].line_no
    for order_id, line_no in ((exchanged, replacement_line), (returned, 1)):
        ledger.orders.return_items(
            SUPPORT, order_id, return_id="r1", line_no=line_no, quantity=1, reason="size"
        )
    ledger.projections.process_all()

    def reversed_of(order_id: UUID) -> dict[str, int]:
        accrual = ledger.commissions.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
        return dict(accrual.reversed)

    assert reversed_of(exchanged) == reversed_of(returned)
    assert any(reversed_of(exchanged).values())
    assert ledger.orders.get_order(exchanged).refundable_fen == PRICES[0]
    assert_books_balance(ledger, world)
