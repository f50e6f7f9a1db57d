"""Orders routed per second: 50 stores, 3 warehouses, 2-line orders.

Prints the pure routing function's rate and the full place-order command's
rate (attribution evidence, routing over the read models, reservations and
the order's events in one transaction) on PostgreSQL, there again with a daily
order cap on every node, and on SQLite.

    python -m bench.routing [--orders 1000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

from rich.console import Console
from rich.table import Table

from bench.common import demo_ledger
from guideledger.api.demo import DemoWorld
from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.fulfilment.domain.routing import LineDemand, route
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.platform.settings import Persistence


def two_line_order(world: DemoWorld, rng: random.Random) -> tuple[list[LineRequest], GeoPoint]:
    (sku_a, price_a), (sku_b, price_b) = rng.sample(world.skus, 2)
    _store, near = rng.choice(world.stores)
    destination = GeoPoint(
        near.latitude + rng.uniform(-0.2, 0.2), near.longitude + rng.uniform(-0.2, 0.2)
    )
    return [LineRequest(sku_a, 1, price_a), LineRequest(sku_b, 1, price_b)], destination


def place_orders(ledger: Ledger, world: DemoWorld, count: int) -> float:
    rng = random.Random(7)
    guide_id, _ = world.guides[0]
    started = time.perf_counter()
    for n in range(count):
        lines, destination = two_line_order(world, rng)
        ledger.orders.place_order(
            Command("bench"),
            brand_id=world.brand_id,
            member_id=world.members[n % len(world.members)],
            lines=lines,
            delivery=DeliveryRequest("bench", destination),
            evidence=AttributionEvidence(Channel.GUIDE_SHARE_LINK, guide_id=guide_id),
        )
    return count / (time.perf_counter() - started)


def pure_routing(ledger: Ledger, world: DemoWorld, count: int) -> float:
    lines, destination = two_line_order(world, random.Random(11))
    demands = [LineDemand(n, line.sku_id, line.quantity) for n, line in enumerate(lines, start=1)]
    candidates = ledger.orders.fulfilment.candidates(
        world.brand_id, demands, ledger.clock.now(), "Asia/Shanghai", {}
    )
    started = time.perf_counter()
    for _ in range(count):
        route(demands, destination, candidates)
    return count / (time.perf_counter() - started)


def cap_every_node(ledger: Ledger, world: DemoWorld) -> None:
    """A daily cap no order here reaches, so routing weighs every node's load for the day."""
    for node_id in [store for store, _location in world.stores] + world.warehouses:
        ledger.organisation.set_node_daily_order_cap(Command("bench"), node_id, 1_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    table = Table(title="Routing throughput (50 stores, 3 warehouses, 2-line orders)")
    for column in ("figure", "per second"):
        table.add_column(column)
    with demo_ledger(Persistence.POSTGRES) as (ledger, world):
        table.add_row(
            "route() pure function, 53 candidates", f"{pure_routing(ledger, world, 5000):,.0f}"
        )
        table.add_row(
            "place order, PostgreSQL, 1 thread", f"{place_orders(ledger, world, args.orders):,.0f}"
        )
        cap_every_node(ledger, world)
        table.add_row(
            "place order, PostgreSQL, 1 thread, a daily order cap on every node",
            f"{place_orders(ledger, world, args.orders):,.0f}",
        )
    with (
        tempfile.TemporaryDirectory() as data_dir,
        demo_ledger(Persistence.SQLITE, data_dir) as (ledger, world),
    ):
        table.add_row(
            "place order, SQLite, 1 thread", f"{place_orders(ledger, world, args.orders):,.0f}"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
