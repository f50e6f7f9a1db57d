"""Shared setup for benchmarks: a throwaway PostgreSQL schema and a demo organisation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql

from api.demo import DemoWorld, load_demo
from infrastructure.bootstrap import Ledger, bootstrap
from infrastructure.clock import ManualClock
from infrastructure.settings import Persistence, Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def peak_mb() -> float:
    """This process's peak resident memory. Not `ru_maxrss`: Linux carries that over an
    exec, so a part started by the suite would report the suite's own peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_URL)


@contextmanager
def postgres_schema() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(database_url(), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def demo_ledger(
    backend: Persistence, data_dir: str = "", schema: str | None = None
) -> Iterator[tuple[Ledger, DemoWorld]]:
    """A ledger holding the demo organisation, catalogue and stock, and no orders yet
    (on PostgreSQL in `schema`, else in a schema of its own)."""
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    if backend is Persistence.POSTGRES and schema is None:
        with postgres_schema() as own, demo_ledger(backend, data_dir, own) as loaded:
            yield loaded
        return
    if backend is Persistence.POSTGRES:
        settings = Settings(
            persistence=backend, database_url=database_url(), postgres_schema=schema or ""
        )
    else:
        settings = Settings(persistence=backend, data_dir=Path(data_dir), database_url=None)
    with bootstrap(settings, clock) as ledger:
        yield ledger, load_demo(ledger, clock.set, orders=0, members=200)


class Bare(Aggregate):
    """The baseline's aggregate: created, then two more events, saved once."""

    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class BareApplication(Application[uuid.UUID]):
    name = "bare"
