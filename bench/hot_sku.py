"""A live stream's hot SKU: many buyers place the same one-line order.

64 threads (by default) place orders for one SKU that only one warehouse stocks, with
plenty of it, on PostgreSQL, for a few seconds. Prints orders placed per second, the CPU
per order, latency percentiles, orders decided again after a race lost to another
process, and checks that the units reserved equal the orders placed. With `--processes
N` the threads are split among N processes sharing the database (as N server
processes would be).

    .venv/bin/python -m bench.hot_sku [--threads 64] [--seconds 5] [--processes 1]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench.common import database_url, demo_ledger, postgres_schema
from guideledger.api.demo import DemoWorld
from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, IdempotencyKey
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings

STOCK = 1_000_000
PRICE_FEN = 9_900


@dataclass(frozen=True)
class HotSku:
    sku_id: UUID
    warehouse_id: UUID


@dataclass(frozen=True)
class Measured:
    orders: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]
    failures: int
    decided_again: int = 0

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    @staticmethod
    def together(parts: list[Measured]) -> Measured:
        """Processes measured side by side: their orders and CPU add up, over the longest."""
        return Measured(
            sum(p.orders for p in parts),
            max(p.seconds for p in parts),
            sum(p.cpu_seconds for p in parts),
            [latency for p in parts for latency in p.latencies],
            sum(p.failures for p in parts),
            sum(p.decided_again for p in parts),
        )

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def stock_hot_sku(ledger: Ledger, world: DemoWorld) -> HotSku:
    """A new SKU of the demo brand, stocked at one warehouse only."""
    admin = Command("bench")
    sku_id = ledger.organisation.register_sku(
        admin,
        brand_id=world.brand_id,
        code="HOT-1",
        name="Live stream special",
        category="footwear",
        price_fen=PRICE_FEN,
    ).id
    warehouse_id = world.warehouses[0]
    ledger.stock.receive(admin, warehouse_id, sku_id, STOCK, "ASN-HOT")
    return HotSku(sku_id, warehouse_id)


def place_hot_orders(
    ledger: Ledger, world: DemoWorld, hot: HotSku, threads: int, seconds: float, run: str
) -> Measured:
    """Every thread places the same one-line order, each with its own idempotency key, until
    the time is up."""
    decided_again: list[str] = []
    ledger.orders.on_lost_race = decided_again.append
    guide_id, _ = world.guides[0]
    _store, destination = world.stores[0]
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    deadline = 0.0

    def buyer(n: int) -> None:
        barrier.wait()
        count = 0
        while (began := time.perf_counter()) < deadline:
            count += 1
            try:
                place(ledger, world, hot, guide_id, destination, n, f"{run}-{n}-{count}")
            except Exception:  # counted: a refused or timed-out order is a failure here
                failures[n] += 1
                continue
            latencies[n].append(time.perf_counter() - began)

    workers = [threading.Thread(target=buyer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + seconds
    barrier.wait()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    every = [latency for each in latencies for latency in each]
    return Measured(len(every), elapsed, cpu, every, sum(failures), len(decided_again))


def place(
    ledger: Ledger,
    world: DemoWorld,
    hot: HotSku,
    guide_id: UUID,
    destination: GeoPoint,
    n: int,
    key: str,
) -> None:
    ledger.orders.place_order(
        Command("bench:hot", IdempotencyKey(key, key)),
        brand_id=world.brand_id,
        member_id=world.members[n % len(world.members)],
        lines=[LineRequest(hot.sku_id, 1, PRICE_FEN)],
        delivery=DeliveryRequest("Live stream buyer", destination),
        evidence=AttributionEvidence(Channel.GUIDE_SHARE_LINK, guide_id=guide_id),
    )


def measure(threads: int, seconds: float, processes: int = 1) -> tuple[Measured, int]:
    """The measurement after a short warm-up, and the units the stock holds reserved."""
    with postgres_schema() as schema, demo_ledger(Persistence.POSTGRES, schema=schema) as loaded:
        ledger, world = loaded
        hot = stock_hot_sku(ledger, world)
        if processes == 1:
            warm_up = place_hot_orders(ledger, world, hot, threads, 1.0, "warm")
            measured = place_hot_orders(ledger, world, hot, threads, seconds, "run")
            placed = warm_up.orders + measured.orders
        else:
            measured, placed = in_processes(
                schema, ledger.clock.now(), world, hot, threads, seconds, processes
            )
        stock = ledger.orders.load(Stock, Stock.create_id(hot.warehouse_id, hot.sku_id))
        if stock.reserved != placed or stock.on_hand != STOCK:
            raise AssertionError(f"{placed} orders placed, {stock.reserved} units reserved")
        return measured, stock.reserved


def in_processes(
    schema: str,
    now: datetime,
    world: DemoWorld,
    hot: HotSku,
    threads: int,
    seconds: float,
    processes: int,
) -> tuple[Measured, int]:
    """The threads split among processes that start together after warming up; the
    measurement of them all and the orders they placed, warm-up included."""
    context = multiprocessing.get_context("spawn")
    ready, start = context.Barrier(processes + 1), context.Event()
    results = context.Queue()
    share = threads // processes
    workers = [
        context.Process(
            target=buyers_process,
            args=(schema, now, world, hot, share, seconds, ready, start, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a process failed: it says why
        ready.wait(timeout=300)
    start.set()
    outcomes = [results.get(timeout=seconds + 300) for _ in workers]
    for worker in workers:
        worker.join()
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    parts = [measured for measured, _warm in outcomes]
    return Measured.together(parts), sum(p.orders + warm for p, warm in outcomes)


def buyers_process(
    schema: str,
    now: datetime,
    world: DemoWorld,
    hot: HotSku,
    threads: int,
    seconds: float,
    ready: multiprocessing.synchronize.Barrier,
    start: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(database_url()),
        postgres_schema=schema,
    )
    try:
        with bootstrap(settings, ManualClock(now)) as ledger:
            run = f"p{multiprocessing.current_process().pid}"
            warm_up = place_hot_orders(ledger, world, hot, threads, 1.0, f"{run}-warm")
            ready.wait()
            start.wait()
            measured = place_hot_orders(ledger, world, hot, threads, seconds, run)
            results.put((measured, warm_up.orders))
    except Exception as error:  # the parent reports it instead of waiting forever
        ready.abort()
        results.put(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    measured, reserved = measure(args.threads, args.seconds, args.processes)
    where = "one process" if args.processes == 1 else f"{args.processes} processes"
    table = Table(title=f"One hot SKU, {args.threads} threads in {where}, PostgreSQL")
    for column in ("figure", "value"):
        table.add_column(column)
    table.add_row("orders placed per second", f"{measured.rate:,.0f}")
    table.add_row("CPU per order (ms)", f"{measured.cpu_seconds / measured.orders * 1000:.2f}")
    table.add_row("latency p50 (ms)", f"{statistics.median(measured.latencies) * 1000:.1f}")
    table.add_row("latency p99 (ms)", f"{measured.percentile(0.99) * 1000:.1f}")
    table.add_row("latency max (ms)", f"{max(measured.latencies) * 1000:.1f}")
    table.add_row("failed orders", str(measured.failures))
    table.add_row("orders decided again after a lost race", str(measured.decided_again))
    table.add_row("units reserved (= orders placed)", f"{reserved:,}")
    Console().print(table)


if __name__ == "__main__":
    main()
