"""The benchmark suite: every figure in one table, with its ratio to the baseline measured
in the same run on the same PostgreSQL.

    .venv/bin/python -m bench.suite [--events 1000000] [--orders 300] [--seconds 10]
        [--audit-orders 1000000]   (the month takes about half an hour to write)

Rows: the library saving a bare aggregate with three events (the baseline);
GuideLedger's place-order in process on PostgreSQL and SQLite; the HTTP API under
load from wrk (a separate process) at several concurrencies, then a hot SKU stocked at one
warehouse at 64 connections, with the server side's CPU per order; a rebuild of N stock
events by GuideLedger's runner and by the library's ProjectionRunner; the settlement
audit of a month of orders written in bulk (`bench.audit`); peak memory of each part (each runs
in its own process).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bench import contention
from bench.common import Bare, BareApplication, database_url, demo_ledger, postgres_schema
from bench.hot_sku import PRICE_FEN, HotSku, stock_hot_sku
from bench.rebuild import env
from bench.routing import place_orders, two_line_order
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.demo import GROUP_ID, DemoWorld
from guideledger.platform.settings import Persistence

console = Console()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent
Row = tuple[str, float, str, float | None]  # figure, value, unit, baseline ratio


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
                    row = _wrk(api, token, bodies.name, connections, seconds)
                    rows.append((f"{row[0]}, {processes} server processes", *row[1:]))
                if processes == workers[-1]:
                    row = _wrk(api, token, hot.name, HOT_CONNECTIONS, seconds)
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


def order_body(world: DemoWorld, rng: random.Random, n: int) -> dict[str, Any]:
    """A two-line order as a frontend posts it, attributed by a guide's share link."""
    lines, destination = two_line_order(world, rng)
    guide_id, _ = world.guides[n % len(world.guides)]
    return {
        "brand_id": str(world.brand_id),
        "member_id": str(world.members[n % len(world.members)]),
        "lines": [
            {"sku_id": str(x.sku_id), "quantity": 1, "unit_price_fen": x.unit_price_fen}
            for x in lines
        ],
        "delivery": {
            "address": "bench",
            "location": {"latitude": destination.latitude, "longitude": destination.longitude},
        },
        "evidence": {"channel": "guide_share_link", "guide_id": str(guide_id)},
    }


class ServedApi:
    """`guideledger serve` in its own process on a free port."""

    def __init__(self, schema: str, workers: int = 1) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # What the server said, shown if it fails; closed on exit.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        environment = {
            **os.environ,
            "GUIDELEDGER_DATABASE_URL": database_url(),
            "GUIDELEDGER_POSTGRES_SCHEMA": schema,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "guideledger.api.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def __enter__(self) -> ServedApi:
        self.url = url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)  # the server is starting: poll again
        self.log.seek(0)
        raise RuntimeError("the API did not start:\n" + self.log.read()[-3000:])

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def cpu_seconds(self) -> float:
        """User and system CPU of the served API's processes (the server, its workers)."""
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        tree, grew = {self.process.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        return sum(times.get(pid, 0.0) for pid in tree)


def _wrk(api: ServedApi, token: str, bodies: str, connections: int, seconds: int) -> Row:
    script = HERE / "wrk_orders.lua"
    cpu_before = api.cpu_seconds()
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"{api.url}/orders",
            "--",
            token,
            bodies,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu = api.cpu_seconds() - cpu_before
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _latency_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _latency_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(refused.group(1)) if refused else 0) + (
        sum(int(n) for n in socket.groups()) if socket else 0
    )
    per_order = 1000 * cpu / max(requests, 1)
    detail = (
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {errors}, "
        f"server CPU {per_order:.1f} ms per order"
    )
    return (f"HTTP POST /orders, {connections} connections", rate, f"orders/s; {detail}", None)


def _latency_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


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


PARTS = ("orders", "http", "contention", "rebuild", "audit")


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
