"""The benchmark suite: every figure in one table, with its ratio to the baseline measured
in the same run on the same PostgreSQL.

    .venv/bin/python -m bench.suite [--events 1000000] [--orders 300] [--seconds 10]
        [--audit-orders 1000000]   (the month takes about half an hour to write)

Rows: the library saving a bare aggregate with three events (the baseline);
GuideLedger's place-order in process on PostgreSQL and SQLite; the HTTP API under
load from wrk (a separate process) at several concurrencies, then a hot SKU stocked at one
warehouse at 64 connections, with the server side's CPU per order; two groups' orders
with their stores on one cell and on two (`bench.cells`); a rebuild of N stock
events by GuideLedger's runner and by the library's ProjectionRunner; the settlement
audit of a month of orders written in bulk (`bench.audit`); peak memory of each part (each runs
in its own process).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bench import contention
from bench.cells import cells_rows
from bench.common import Bare, BareApplication, demo_ledger, postgres_schema
from bench.hot_sku import PRICE_FEN, HotSku, stock_hot_sku
from bench.rebuild import env
from bench.routing import place_orders
from bench.served import Row, ServedApi, order_body, wrk_row
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.demo import GROUP_ID, DemoWorld
from guideledger.platform.settings import Persistence

console = Console()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent


def baseline(saves: int) -> float:
    """The library as-is: saves per second of a new aggregate with three events, one thread."""
    with postgres_schema() as schema:
        app = BareApplication(env=env(schema))
        started = time.perf_counter()
        for _ in range(saves):
            aggregate = Bare()
            aggregate.count_one()
            aggregate.count_one()
            app.save(aggregate)
        rate = saves / (time.perf_counter() - started)
        app.close()
    return rate


def place_order_rate(backend: Persistence, orders: int) -> float:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        demo_ledger(backend, data_dir) as (
            ledger,
            world,
        ),
    ):
        place_orders(ledger, world, 20)  # warm caches and prepared statements
        return place_orders(ledger, world, orders)


def http_load(concurrencies: list[int], seconds: int, workers: list[int]) -> list[Row]:
    """wrk posting orders (varied SKUs, members and places), each with its own idempotency
    key, to a served API on PostgreSQL; then a live stream's hot SKU, stocked at one
    warehouse only, bought by 64 connections at once."""
    if shutil.which("wrk") is None:
        console.print("[yellow]wrk is not installed (apt-get install wrk): no HTTP figures")
        return []
    rows: list[Row] = []
    with (
        postgres_schema() as schema,
        demo_ledger(Persistence.POSTGRES, schema=schema) as (
            ledger,
            world,
        ),
        tempfile.NamedTemporaryFile("w", suffix=".jsonl") as bodies,
        tempfile.NamedTemporaryFile("w", suffix=".jsonl") as hot,
    ):
        rng = random.Random(3)
        for n in range(1000):
            bodies.write(json.dumps(order_body(world, rng, n)) + "\n")
        bodies.flush()
        hot_sku = stock_hot_sku(ledger, world)
        for n in range(1000):
            hot.write(json.dumps(hot_order_body(world, hot_sku, n)) + "\n")
        hot.flush()
        token = issue_token(ledger.settings, Caller("bench", Role.FRONTEND, GROUP_ID))
        for processes in workers:
            with ServedApi(schema, processes) as api:
                for connections in concurrencies:
                    row = wrk_row(api, token, bodies.name, connections, seconds)
                    rows.append((f"{row[0]}, {processes} server processes", *row[1:]))
                if processes == workers[-1]:
                    row = wrk_row(api, token, hot.name, HOT_CONNECTIONS, seconds)
                    rows.append(
                        (
                            f"{row[0]}, one hot SKU at one warehouse, {processes} server processes",
                            *row[1:],
                        )
                    )
    return rows


HOT_CONNECTIONS = 64


def hot_order_body(world: DemoWorld, hot: HotSku, n: int) -> dict[str, Any]:
    """A one-line order for the live stream's SKU, which only one warehouse stocks."""
    _store, near = world.stores[n % len(world.stores)]
    guide_id, _ = world.guides[n % len(world.guides)]
    return {
        "brand_id": str(world.brand_id),
        "member_id": str(world.members[n % len(world.members)]),
        "lines": [{"sku_id": str(hot.sku_id), "quantity": 1, "unit_price_fen": PRICE_FEN}],
        "delivery": {
            "address": "bench",
            "location": {"latitude": near.latitude, "longitude": near.longitude},
        },
        "evidence": {"channel": "guide_share_link", "guide_id": str(guide_id)},
    }


def _part(*args: str) -> dict[str, Any]:
    """One part in its own process, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def rebuild_rows(events: int) -> list[Row]:
    with postgres_schema() as schema:
        _part("bench.rebuild", "load", schema, str(events))
        ours = _part("bench.rebuild", "ours", schema)
        library = _part("bench.rebuild", "library", schema)
    ratio = ours["rate"] / library["rate"]
    return [
        (f"rebuild {events:,} events, GuideLedger runner", ours["rate"], "events/s", None),
        (f"rebuild {events:,} events, library ProjectionRunner", library["rate"], "events/s", None),
        ("rebuild: GuideLedger over the library", ratio, "x", None),
        ("rebuild peak memory, GuideLedger", ours["peak_mb"], "MB", None),
        ("rebuild peak memory, library", library["peak_mb"], "MB", None),
    ]


def audit_rows(orders: int) -> list[Row]:
    with postgres_schema() as schema:
        written = _part("bench.audit", "load", schema, str(orders))
        audited = _part("bench.audit", "run", schema)
    if audited["mismatches"]:
        raise RuntimeError(f"the audit found {audited['mismatches']} mismatches")
    events, accruals = audited["events"], audited["accruals"]
    return [
        (
            f"bulk write of the month (COPY): {orders:,} orders, {written['events']:,} events",
            written["events"] / written["write_seconds"],
            f"events/s; {orders / written['write_seconds']:,.0f} orders/s",
            None,
        ),
        (
            f"audit of a month: {accruals:,} paid orders, {events:,} commission events",
            audited["seconds"],
            f"s; {audited['orders_per_second']:,.0f} orders/s, "
            f"{audited['events_per_second']:,.0f} events/s, {audited['processes']} processes",
            None,
        ),
        ("audit peak memory", audited["peak_mb"], "MB", None),
        ("audit peak memory of a part's process", audited["part_peak_mb"], "MB", None),
    ]


def contention_rows(base: float) -> list[Row]:
    """The library's table lock as writer processes are added (see `bench.contention`)."""
    return [
        (
            f"write lock: {layout}, {writers} writer processes",
            rate,
            f"aggregates/s; {detail}",
            rate / base,
        )
        for layout, writers, rate, detail in contention.rows([1, 4, 16], seconds=5)
    ]


def record(rows: list[Row], new: list[Row]) -> None:
    """Keeps the part's rows for the table and logs them now, so a later failure loses none."""
    for figure, value, unit, ratio in new:
        console.log(figure, f"{value:,.1f}", unit, "" if ratio is None else f"{ratio:.2f}x")
    rows += new


PARTS = ("orders", "http", "cells", "contention", "rebuild", "audit")


def main(
    events: int = typer.Option(1_000_000, help="Stock events for the rebuild"),
    orders: int = typer.Option(300, help="Orders per place-order figure"),
    seconds: int = typer.Option(10, help="Seconds per HTTP load level"),
    parts: str = typer.Option(",".join(PARTS), help="Which parts besides the baseline"),
    connections: str = typer.Option("4,16,64", help="HTTP concurrency levels"),
    workers: str = typer.Option(
        str(os.cpu_count() or 1),
        help="Server process counts for the HTTP load (the last also takes the hot SKU)",
    ),
    audit_orders: int = typer.Option(
        1_000_000, help="Orders written in bulk for the audited month (the issue's size)"
    ),
) -> None:
    chosen = set(parts.split(","))
    base = baseline(500)
    rows: list[Row] = [
        ("baseline: library saves a bare aggregate (3 events)", base, "saves/s", 1.0)
    ]
    if "orders" in chosen:
        for backend in (Persistence.POSTGRES, Persistence.SQLITE):
            rate = place_order_rate(backend, orders)
            record(
                rows, [(f"place order in process, {backend.value}", rate, "orders/s", rate / base)]
            )
    if "http" in chosen:
        record(
            rows,
            http_load(
                [int(c) for c in connections.split(",")],
                seconds,
                [int(w) for w in workers.split(",")],
            ),
        )
    if "cells" in chosen:
        processes = int(workers.split(",")[-1])
        record(rows, cells_rows(seconds, max(int(c) for c in connections.split(",")), processes))
    if "contention" in chosen:
        record(rows, contention_rows(base))
    if "rebuild" in chosen:
        record(rows, rebuild_rows(events))
    if "audit" in chosen:
        record(rows, audit_rows(audit_orders))
    table = Table("figure", "value", "unit", "x baseline")
    for figure, value, unit, ratio in rows:
        table.add_row(figure, f"{value:,.1f}", unit, "" if ratio is None else f"{ratio:.2f}")
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
