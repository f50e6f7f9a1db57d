"""What the sandbox clock costs a command: place-order in process on the test clock (held
in memory) and on the sandbox clock (read from the store on every `now()`), in
alternating rounds, on SQLite and PostgreSQL; and how many reads of the clock an order
makes.

    python -m bench.sandbox_clock [--orders 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from statistics import median

from rich.console import Console
from rich.table import Table

from bench.common import demo_ledger
from bench.routing import place_orders
from guideledger.api.demo import DemoWorld
from guideledger.composition import Ledger
from guideledger.platform.sandbox_clock import SandboxClock
from guideledger.platform.settings import Persistence


@contextmanager
def counted_reads(clock: SandboxClock) -> Iterator[list[int]]:
    """Counts the clock's reads while inside."""
    reads, now = [0], clock.now

    def counting() -> object:
        reads[0] += 1
        return now()

    clock.now = counting  # type: ignore[method-assign, assignment]
    try:
        yield reads
    finally:
        del clock.now


def rates(backend: Persistence, orders: int, rounds: int) -> tuple[float, float, float]:
    """Orders per second on the test clock and on the sandbox clock (medians of the
    rounds), and the sandbox clock's reads per order."""
    with ExitStack() as stack:
        ledgers: dict[bool, tuple[Ledger, DemoWorld]] = {}
        for sandbox in (False, True):
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            ledgers[sandbox] = stack.enter_context(demo_ledger(backend, data_dir, sandbox=sandbox))
            place_orders(*ledgers[sandbox], 20)  # warm caches and prepared statements
        measured: dict[bool, list[float]] = {False: [], True: []}
        for _round in range(rounds):
            for sandbox, (ledger, world) in ledgers.items():
                measured[sandbox].append(place_orders(ledger, world, orders))
        ledger, world = ledgers[True]
        assert isinstance(ledger.clock, SandboxClock)
        with counted_reads(ledger.clock) as reads:
            place_orders(ledger, world, 10)
    return median(measured[False]), median(measured[True]), reads[0] / 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    table = Table(title="place-order in process: the test clock and the sandbox clock")
    for column in ("backend", "test clock, orders/s", "sandbox clock, orders/s", "reads/order"):
        table.add_column(column)
    for backend in (Persistence.SQLITE, Persistence.POSTGRES):
        held, sandbox, reads = rates(backend, args.orders, args.rounds)
        table.add_row(backend.value, f"{held:,.0f}", f"{sandbox:,.0f}", f"{reads:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
