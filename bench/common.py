"""Shared setup for benchmarks: a throwaway PostgreSQL schema and a demo organisation."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql
from pydantic import SecretStr

from guideledger.api.demo import DemoWorld, load_demo
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from guideledger.platform.sandbox_clock import SandboxClock
from guideledger.platform.settings import ClockMode, Persistence, Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def peak_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory. Not `ru_maxrss`: Linux carries that over an
    exec, so a part started by the suite would report the suite's own peak."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


class ChildrenPeak:
    """The highest peak memory of this process's children while it runs (a thread reads
    each child's peak every half second; a child living less than that may be missed)."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ChildrenPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for pid in _children():
                with suppress(OSError, RuntimeError):  # it ended meanwhile
                    self.mb = max(self.mb, peak_mb(pid))


def _children() -> list[str]:
    pids: list[str] = []
    for task in Path("/proc/self/task").iterdir():
        with suppress(OSError):
            pids += (task / "children").read_text().split()
    return pids


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
    backend: Persistence, data_dir: str = "", schema: str | None = None, sandbox: bool = False
) -> Iterator[tuple[Ledger, DemoWorld]]:
    """A ledger holding the demo organisation, catalogue and stock, and no orders yet
    (on PostgreSQL in `schema`, else in a schema of its own); with `sandbox`, on the
    sandbox clock the store keeps (`GUIDELEDGER_CLOCK=manual`)."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    if backend is Persistence.POSTGRES and schema is None:
        with postgres_schema() as own, demo_ledger(backend, data_dir, own, sandbox) as loaded:
            yield loaded
        return
    if backend is Persistence.POSTGRES:
        settings = Settings(
            persistence=backend,
            database_url=SecretStr(database_url()),
            postgres_schema=schema or "",
        )
    else:
        settings = Settings(persistence=backend, data_dir=Path(data_dir), database_url=None)
    if sandbox:
        settings = settings.model_copy(update={"clock": ClockMode.MANUAL, "clock_start": start})
        with bootstrap(settings) as ledger:
            assert isinstance(ledger.clock, SandboxClock)
            yield ledger, load_demo(ledger, ledger.clock.move_to, orders=0, members=200)
        return
    clock = ManualClock(start)
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
