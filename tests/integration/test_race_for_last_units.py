"""Many buyers race for the last units on real PostgreSQL: exactly the stock on hand is sold.

Within one process, orders for the same SKU take turns; across processes (here two
ledgers on one database) optimistic concurrency decides, and neither oversells."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.fulfilment.domain.stock import Stock
from tests.world import build_world, place_order, receive

BUYERS = 12
LAST_UNITS = 5


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
