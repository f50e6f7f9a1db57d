"""How the library's PostgreSQL write lock limits throughput as writers are added, and what
GuideLedger's recorder without it does.

The library's recorder takes `LOCK TABLE … IN EXCLUSIVE MODE` in every write
transaction (so notification ids become visible in order), which serialises the
writers of one events table from the lock to the commit. This measures W writer
processes (separate processes, so Python's GIL is not what serialises them), each
saving bare three-event aggregates as fast as it can, in four layouts:

- one table: every writer appends to the same application's events table;
- table per writer: each writer is its own application with its own table
  (how GuideLedger's bounded contexts already split orders, organisation,
  commissions and engagement);
- one table, 10 per transaction: the same shared table, each transaction saving
  ten aggregates (group commit: one lock and one commit shared by ten commands);
- one table, no lock: the shared table written by GuideLedger's own recorder
  (`TransactionOrderRecorder`: ids ordered by writing transaction, no table lock).

    .venv/bin/python -m bench.contention [--writers 1,2,4,8,16] [--seconds 5]
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import typer
from eventsourcing.utils import get_topic
from rich.console import Console
from rich.table import Table

from bench.common import Bare, BareApplication, postgres_schema
from bench.rebuild import env
from guideledger.eventstore.recorder import TransactionOrderRecorder


@dataclass(frozen=True)
class Layout:
    name: str
    table_per_writer: bool
    per_transaction: int
    lock_free: bool = False

    def env(self, schema: str) -> dict[str, str]:
        if not self.lock_free:
            return env(schema)
        return {**env(schema), "APPLICATION_RECORDER_TOPIC": get_topic(TransactionOrderRecorder)}


LAYOUTS = (
    Layout("one table", table_per_writer=False, per_transaction=1),
    Layout("table per writer", table_per_writer=True, per_transaction=1),
    Layout("one table, 10 per transaction", table_per_writer=False, per_transaction=10),
    Layout("one table, no lock", table_per_writer=False, per_transaction=1, lock_free=True),
)


def writer(
    schema: str,
    number: int,
    layout: Layout,
    seconds: float,
    start: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    try:
        results.put(write(schema, number, layout, seconds, start))
    except Exception as error:  # the parent reports it instead of waiting forever
        results.put(error)


def write(
    schema: str,
    number: int,
    layout: Layout,
    seconds: float,
    start: multiprocessing.synchronize.Event,
) -> tuple[int, list[float]]:
    name = f"bare{number}" if layout.table_per_writer else "bare"
    # The parent created the tables: concurrent DDL would collide in the catalogue.
    # One connection each (a writer uses one at a time): sixteen writers' default pools
    # would take most of the server's connections.
    writer_env = {**layout.env(schema), "CREATE_TABLE": "n", "POSTGRES_POOL_SIZE": "1"}
    application = type(f"Bare{number}", (BareApplication,), {"name": name})(env=writer_env)
    start.wait()
    saved, latencies = 0, []
    deadline = time.perf_counter() + seconds
    while (began := time.perf_counter()) < deadline:
        aggregates = []
        for _ in range(layout.per_transaction):
            aggregate = Bare()
            aggregate.count_one()
            aggregate.count_one()
            aggregates.append(aggregate)
        application.save(*aggregates)
        latencies.append(time.perf_counter() - began)
        saved += len(aggregates)
    application.close()
    return saved, latencies


def measure(layout: Layout, writers: int, seconds: float) -> tuple[float, float, float]:
    """(aggregates saved per second, p50 ms, p99 ms of one transaction)."""
    context = multiprocessing.get_context("spawn")
    with postgres_schema() as schema:
        # Create the tables before the clock starts.
        for number in range(writers if layout.table_per_writer else 1):
            name = f"bare{number}" if layout.table_per_writer else "bare"
            application = type(f"Bare{number}", (BareApplication,), {"name": name})
            application(env=layout.env(schema)).close()
        start, results = context.Event(), context.Queue()
        processes = [
            context.Process(target=writer, args=(schema, n, layout, seconds, start, results))
            for n in range(writers)
        ]
        for process in processes:
            process.start()
        time.sleep(2)  # let every writer connect before the start signal
        start.set()
        outcomes = [results.get(timeout=seconds + 120) for _ in processes]
        for process in processes:
            process.join()
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    saved = sum(count for count, _ in outcomes)
    latencies = sorted(ms for _, each in outcomes for ms in each)
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    return saved / seconds, statistics.median(latencies) * 1000, p99 * 1000


def rows(writer_counts: Sequence[int], seconds: float) -> list[tuple[str, int, float, str]]:
    """(layout, writers, aggregates/s, detail) for every layout and writer count."""
    measured = []
    for layout in LAYOUTS:
        for writers in writer_counts:
            rate, p50, p99 = measure(layout, writers, seconds)
            measured.append(
                (layout.name, writers, rate, f"transaction p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            )
    return measured


def main(
    writers: str = typer.Option("1,2,4,8,16", help="Writer process counts, comma-separated"),
    seconds: float = typer.Option(5.0, help="Seconds per measurement"),
) -> None:
    counts = [int(n) for n in writers.split(",")]
    table = Table(
        "layout", "writers", "aggregates/s", "transaction latency", title="Write lock contention"
    )
    for layout, count, rate, detail in rows(counts, seconds):
        table.add_row(layout, str(count), f"{rate:,.0f}", detail)
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
