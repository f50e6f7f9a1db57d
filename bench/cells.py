"""Orders over HTTP with the groups on one cell and on two: the same served API (its
processes and worker), the same load (two groups, each posted to by its own wrk at half
the connections), and the groups' stores on one PostgreSQL server or on two.

Both servers are throwaway clusters started here from the installed binaries; the
directory and the home store are schemas on the usual server.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

from pydantic import SecretStr

from bench.common import database_url, postgres_schema
from bench.served import Row, ServedApi, WrkFigures, order_body, wrk_command, wrk_figures
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.demo import DemoWorld, load_demo
from guideledger.cells.cells import Cells, open_cells
from guideledger.organisation.domain.group import Group
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.throwaway_postgres import throwaway_cluster

LAYOUTS = {"one cell": ("a", "a"), "two cells": ("a", "b")}


WARM_UP_SECONDS = 3  # every server process opens both groups' stores before the count
MAX_CONNECTIONS = 300  # each server's: two stores, two API processes and a worker on it
WARM_UP_CONNECTIONS = 4  # a cold store opens slowly under a burst (see README, Cells)


def cells_rows(seconds: int, connections: int, processes: int) -> list[Row]:
    """One row per layout: orders/s over both groups, the worse p99, errors."""
    rows: list[Row] = []
    with _cells() as (cells, environment, home):
        for layout, placed in LAYOUTS.items():
            loads = [
                _group_load(cells, f"BENCH-{layout[:3].upper()}-{n}", cell)
                for n, cell in enumerate(placed)
            ]
            with ServedApi(home, processes, environment) as api, ExitStack() as files:
                posted = [(token, _bodies(files, world)) for token, world in loads]
                _both(api, posted, WARM_UP_CONNECTIONS, WARM_UP_SECONDS)
                figures = _both(api, posted, connections, seconds)
            rate = sum(f.rate for f in figures)
            p99 = max(f.p99_ms for f in figures)
            errors = sum(f.errors for f in figures)
            figure = f"HTTP POST /orders, two groups on {layout}, {connections} connections"
            rows.append((figure, rate, f"orders/s; p99 {p99:.0f} ms, errors {errors}", None))
    return rows


def _bodies(files: ExitStack, world: DemoWorld) -> str:
    """A file of the group's orders, one JSON body per line."""
    bodies = files.enter_context(tempfile.NamedTemporaryFile("w", suffix=".jsonl"))  # noqa: SIM115
    rng = random.Random(5)
    for n in range(1000):
        bodies.write(json.dumps(order_body(world, rng, n)) + "\n")
    bodies.flush()
    return bodies.name


def _both(
    api: ServedApi, posted: list[tuple[str, str]], connections: int, seconds: int
) -> list[WrkFigures]:
    """Each group's orders posted by a wrk of its own at once, half the connections each."""
    running = [
        subprocess.Popen(
            wrk_command(api, token, bodies, connections // 2, seconds, threads=1),
            stdout=subprocess.PIPE,
            text=True,
        )
        for token, bodies in posted
    ]
    return [wrk_figures(process.communicate()[0]) for process in running]


@contextmanager
def _cells() -> Iterator[tuple[Cells, dict[str, str], str]]:
    """Cells a and b on two throwaway clusters; the served API's environment."""
    with (
        throwaway_cluster(MAX_CONNECTIONS) as a,
        throwaway_cluster(MAX_CONNECTIONS) as b,
        postgres_schema() as home,
        postgres_schema() as directory,
    ):
        directory_url = f"{database_url()}?options=-csearch_path%3D{directory}"
        settings = Settings(
            persistence=Persistence.POSTGRES,
            database_url=SecretStr(database_url()),
            postgres_schema=home,
            directory_url=SecretStr(directory_url),
        )
        with open_cells(settings, ManualClock(datetime(2026, 11, 1, tzinfo=UTC))) as cells:
            assert cells.directory is not None
            cells.directory.add_cell("a", a.url)
            cells.directory.add_cell("b", b.url)
            yield cells, {"GUIDELEDGER_DIRECTORY_URL": directory_url}, home


def _group_load(cells: Cells, code: str, cell_id: str) -> tuple[str, DemoWorld]:
    """A group placed on the cell with the demo's brand loaded; its frontend's token."""
    group_id = Group.create_id(code)
    ledger = cells.place(group_id, cell_id)
    clock = ledger.clock
    assert isinstance(clock, ManualClock)
    world = load_demo(ledger, clock.set, orders=0, members=200, group_code=code)
    caller = Caller("bench", Role.FRONTEND, group_id)
    return issue_token(ledger.settings, caller), world
