"""Many buyers race for the last units on real PostgreSQL: exactly the stock on hand is sold.

Within one process, orders for the same SKU take turns, each turn reserving for all the
orders waiting for it and saving them together; across processes (here two ledgers on one
database) optimistic concurrency decides, and neither oversells."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

from eventsourcing.utils import get_topic

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, CommandResult, IdempotencyKey
from guideledger.fulfilment.domain.stock import Stock
from guideledger.orders.domain.order import Order
from tests.turns import WatchedList
from tests.world import World, build_world, place_order, receive

BUYERS = 12
LAST_UNITS = 5
LIVE_STREAM_BUYERS = 64


def test_exactly_the_available_units_are_reserved_when_buyers_race(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], LAST_UNITS)
    barrier = Barrier(BUYERS)

    def buy(n: int) -> bool:
        barrier.wait()
        order_id = place_order(pg_ledger, world, quantities=(1,), command=Command(f"buyer-{n}")).id
        return bool(pg_ledger.orders.get_order(order_id).allocations)

    with ThreadPoolExecutor(BUYERS) as pool:
        allocated = list(pool.map(buy, range(BUYERS)))

    assert allocated.count(True) == LAST_UNITS
    stock = pg_ledger.orders.load(Stock, Stock.create_id(world.store_id, world.sku_ids[0]))
    assert (stock.on_hand, stock.reserved, stock.available) == (LAST_UNITS, LAST_UNITS, 0)
    waiting = pg_ledger.waiting_orders.of_brand(world.brand_id)
    assert len(waiting) == BUYERS - LAST_UNITS


def test_racing_buyers_never_oversell_across_two_nodes(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], 3)
    receive(pg_ledger, world.other_store_id, world.sku_ids[0], 4)
    barrier = Barrier(BUYERS)

    def buy(n: int) -> int:
        barrier.wait()
        order_id = place_order(pg_ledger, world, quantities=(1,), command=Command(f"b{n}")).id
        return len(pg_ledger.orders.get_order(order_id).allocations)

    with ThreadPoolExecutor(BUYERS) as pool:
        assert sum(pool.map(buy, range(BUYERS))) == 7
    for node_id, units in ((world.store_id, 3), (world.other_store_id, 4)):
        stock = pg_ledger.orders.load(Stock, Stock.create_id(node_id, world.sku_ids[0]))
        assert (stock.reserved, stock.available) == (units, 0)


def test_buyers_in_two_processes_never_oversell(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], LAST_UNITS)
    barrier = Barrier(BUYERS)

    with bootstrap(pg_ledger.settings, pg_ledger.clock) as other_process:

        def buy(n: int) -> bool:
            ledger = (pg_ledger, other_process)[n % 2]
            barrier.wait()
            command = Command(f"buyer-{n}")
            order_id = place_order(ledger, world, quantities=(1,), command=command).id
            return bool(ledger.orders.get_order(order_id).allocations)

        with ThreadPoolExecutor(BUYERS) as pool:
            allocated = list(pool.map(buy, range(BUYERS)))
    assert allocated.count(True) == LAST_UNITS
    stock = pg_ledger.orders.load(Stock, Stock.create_id(world.store_id, world.sku_ids[0]))
    assert (stock.on_hand, stock.reserved, stock.available) == (LAST_UNITS, LAST_UNITS, 0)


def placed_orders(ledger: Ledger) -> Counter[Any]:
    """How many times each order was stored as placed."""
    topic = get_topic(Order.Placed)
    notifications = ledger.orders.recorder.select_notifications(
        start=1, limit=10_000, topics=[topic]
    )
    return Counter(notification.originator_id for notification in notifications)


def assert_sold_exactly(ledger: Ledger, world: World, units: int, order_ids: set[Any]) -> None:
    """Every order stored once, allocated with its unit or waiting; `units` units reserved."""
    assert set(placed_orders(ledger).values()) == {1}
    assert set(placed_orders(ledger)) == order_ids
    orders = [ledger.orders.get_order(order_id) for order_id in order_ids]
    allocated = [order for order in orders if order.allocations]
    waiting = [order for order in orders if order.awaiting_stock]
    assert len(allocated) + len(waiting) == len(orders)
    assert sum(line.quantity for o in allocated for a in o.allocations for line in a.lines) == units
    stock = ledger.orders.load(Stock, Stock.create_id(world.store_id, world.sku_ids[0]))
    assert (stock.on_hand, stock.reserved, stock.available) == (units, units, 0)
    assert {key.split(":")[0] for key in stock.reservations} == {str(o.id) for o in allocated}


def test_a_live_streams_buyers_in_two_processes_buy_exactly_the_stock(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], 40)
    barrier = Barrier(LIVE_STREAM_BUYERS)

    with bootstrap(pg_ledger.settings, pg_ledger.clock) as other_process:

        def buy(n: int) -> list[Any]:
            ledger = (pg_ledger, other_process)[n % 2]
            barrier.wait()
            return [
                place_order(ledger, world, quantities=(1,), command=Command(f"b{n}-{k}")).id
                for k in range(2)
            ]

        with ThreadPoolExecutor(LIVE_STREAM_BUYERS) as pool:
            order_ids = {order_id for placed in pool.map(buy, range(64)) for order_id in placed}
    assert len(order_ids) == 2 * LIVE_STREAM_BUYERS
    assert_sold_exactly(pg_ledger, world, 40, order_ids)


def test_retried_orders_of_a_live_stream_are_placed_once(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], 10)
    barrier = Barrier(LIVE_STREAM_BUYERS)
    keys = 21  # about three sends of each, from both processes

    with bootstrap(pg_ledger.settings, pg_ledger.clock) as other_process:

        def buy(n: int) -> tuple[int, CommandResult]:
            ledger = (pg_ledger, other_process)[n % 2]
            command = Command("frontend", IdempotencyKey(f"order-{n % keys}", "same-body"))
            barrier.wait()
            return n % keys, place_order(ledger, world, quantities=(1,), command=command)

        with ThreadPoolExecutor(LIVE_STREAM_BUYERS) as pool:
            outcomes = list(pool.map(buy, range(LIVE_STREAM_BUYERS)))
    first: dict[int, CommandResult] = {}
    for key, result in outcomes:
        assert first.setdefault(key, result) == result
    assert len(first) == keys
    assert_sold_exactly(pg_ledger, world, 10, {result.id for result in first.values()})


def test_a_turn_that_lost_units_to_another_process_routes_its_orders_again(
    pg_ledger: Ledger,
) -> None:
    """The first buyer's turn is held while five more queue for the next one; just before
    that turn saves, another process takes two of the four units left. The turn loses the
    race, decides again from fresh reads, and two of the five get the last two units."""
    world = build_world(pg_ledger, stocked=False)
    receive(pg_ledger, world.store_id, world.sku_ids[0], LAST_UNITS)
    orders = pg_ledger.orders
    waiting = WatchedList()
    orders.turns._waiting = waiting
    first_saving, release_first = threading.Event(), threading.Event()
    save, transactions = orders.group_commit._save, []

    with bootstrap(pg_ledger.settings, pg_ledger.clock) as rival:

        def contended(*saved: Any) -> object:
            transactions.append(len(saved))
            if len(transactions) == 1:
                first_saving.set()
                assert release_first.wait(5)
            elif len(transactions) == 2:
                for n in range(2):
                    place_order(rival, world, quantities=(1,), command=Command(f"rival-{n}"))
            return save(*saved)

        orders.group_commit._save = contended
        placed: list[Any] = []

        def buy(n: int) -> None:
            placed.append(place_order(pg_ledger, world, (1,), Command(f"buyer-{n}")).id)

        buyers = [threading.Thread(target=buy, args=(0,))]
        buyers[0].start()
        assert first_saving.wait(5)
        for n in range(1, 6):
            buyers.append(threading.Thread(target=buy, args=(n,)))
            buyers[-1].start()
            waiting.wait_for(n)
        release_first.set()
        for thread in buyers:
            thread.join(10)
        rival_ids = set(placed_orders(rival)) - set(placed)
    assert len(transactions) == 3  # the first buyer's, the lost one, the one decided again
    assert len(placed) == 6
    assert_sold_exactly(pg_ledger, world, LAST_UNITS, set(placed) | rival_ids)
    allocated = [order_id for order_id in placed if orders.get_order(order_id).allocations]
    assert len(allocated) == 3  # the first buyer and two of the five
