"""Whole stories, told through the applications the way the service runs them."""

from __future__ import annotations

from datetime import timedelta

from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.orders.domain.lines import OrderStatus
from guideledger.platform.clock import ManualClock
from tests.world import PRICES, build_world, order_total, pay, place_order, receive


def test_night_order_through_a_guide_link_ships_from_store_and_warehouse_then_one_item_returns(
    ledger: Ledger, clock: ManualClock
) -> None:
    """After store closing time a customer buys through a guide's share link; the
    store ships what it has, the warehouse the rest; one pair comes back; support
    later reconstructs every step."""
    world = build_world(ledger, stocked=False)
    receive(ledger, world.store_id, world.sku_ids[0], 2)
    receive(ledger, world.warehouse_id, world.sku_ids[1], 3)
    orders = ledger.orders
    clock.set(clock.now().replace(hour=14, minute=30))  # 22:30 in Shanghai
    order_id = place_order(ledger, world, command=Command("frontend:mall")).id
    clock.advance(timedelta(minutes=4))
    pay(ledger, order_id)
    clock.advance(timedelta(hours=10))
    orders.ship(Command("store:S-SH-01"), order_id, "p1", world.store_id, {1: 2})
    clock.advance(timedelta(hours=2))
    orders.ship(Command("warehouse:WH-SH"), order_id, "p2", world.warehouse_id, {2: 1})
    clock.advance(timedelta(days=1))
    orders.deliver(Command("carrier:sf"), order_id, "p1")
    orders.deliver(Command("carrier:sf"), order_id, "p2")
    clock.advance(timedelta(days=2))
    orders.return_items(
        Command("support:zhang"),
        order_id,
        return_id="RMA-1",
        line_no=1,
        quantity=1,
        reason="尺码偏小 runs small",
    )
    orders.refund(Command("finance:chen"), order_id, "RF-1", PRICES[0])

    order = orders.get_order(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert (order.paid_fen, order.refunded_fen, order.refundable_fen) == (
        order_total(),
        PRICES[0],
        0,
    )

    history = ledger.order_history.entries(order_id)
    assert [h.event for h in history] == [
        "Placed",
        "Attributed",
        "Allocated",
        "Paid",
        "Shipped",
        "Shipped",
        "Delivered",
        "Delivered",
        "ItemsReturned",
        "Refunded",
    ]
    assert [h.actor for h in history][-2:] == ["support:zhang", "finance:chen"]
    # Support replays the order to the moment of each fact: it holds every fact
    # that had occurred by then (both parcels arrived at the same instant).
    for entry in history:
        occurred = [h.version for h in history if h.occurred_at <= entry.occurred_at]
        assert ledger.order_history.as_of(order_id, entry.occurred_at).version == max(occurred)


def test_an_order_left_unpaid_is_cancelled_when_its_window_closes(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    forgotten = place_order(ledger, world).id
    clock.advance(timedelta(minutes=29))
    assert ledger.orders.expire_unpaid_orders() == []
    clock.advance(timedelta(minutes=1))
    assert ledger.orders.expire_unpaid_orders() == [forgotten]
    order = ledger.orders.get_order(forgotten)
    assert order.status is OrderStatus.CANCELLED
    assert ledger.order_history.entries(forgotten)[-1].actor == "system:payment-window"
