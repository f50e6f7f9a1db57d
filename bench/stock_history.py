"""What a stock costs to read as its history grows: a warehouse's stock of one SKU ships
5,000 more order lines per round, and each round prints how long the repository takes
to hand a command the stock from its cache (as every reservation does) and from
PostgreSQL when the cache does not hold it (as after a restart: its latest snapshot and
the events since).

    python -m bench.stock_history [--rounds 4] [--lines 5000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from uuid import uuid4

from rich.console import Console
from rich.table import Table

from bench.common import demo_ledger
from guideledger.fulfilment.domain.stock import Stock
from guideledger.platform.settings import Persistence

READS = 20
AT = datetime(2026, 11, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    table = Table("lines shipped", "events", "read from the cache, ms", "read past the cache, ms")
    with demo_ledger(Persistence.POSTGRES) as (ledger, world):
        sku_id, _price = world.skus[0]
        stock_id = Stock.create_id(world.warehouses[0], sku_id)
        repository = ledger.orders.repository
        for round_no in range(1, args.rounds + 1):
            stock: Stock = repository.get(stock_id)
            stock.receive(args.lines, f"bench-{round_no}", AT, "bench")
            for _ in range(args.lines):
                order_id = uuid4()
                stock.reserve(order_id, 1, 1, AT, "bench")
                stock.commit(order_id, 1, 1, AT, "bench")
            ledger.orders.save(stock)
            repository.get(stock_id)  # the cache catches up with the new events once
            started = time.perf_counter()
            for _ in range(READS):
                repository.get(stock_id)
            cached_ms = (time.perf_counter() - started) * 1000 / READS
            assert repository.cache is not None
            repository.cache.get(stock_id, evict=True)
            started = time.perf_counter()
            ledger.orders.load(Stock, stock_id)
            uncached_ms = (time.perf_counter() - started) * 1000
            shipped = f"{round_no * args.lines:,}"
            table.add_row(shipped, f"{stock.version:,}", f"{cached_ms:.1f}", f"{uncached_ms:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
