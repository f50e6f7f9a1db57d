"""The routing view reads the log through its watch: decisions queued behind a look at the
log share the next one, and a caller never gets rows older than what was recorded before
its decision began."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.repository import LogWatch, decisions
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from guideledger.readmodels.folded import FoldedTable
from tests.world import STORE_STOCK, World, build_world

CALLERS = 5


class WatchedLock:
    """A lock telling the test how many threads wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # the watch's lock is taken again by its followers
        self._changed = threading.Condition()
        self.waiting = 0

    def __enter__(self) -> None:
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        self._lock.acquire()
        with self._changed:
            self.waiting -= 1

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def wait_for(self, waiting: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.waiting >= waiting, timeout=5)


class CountedLog:
    """The log as the watch sees it, counting its reads and running `during_read` inside
    the first."""

    def __init__(self, log: Any, during_read: Callable[[], None] = lambda: None) -> None:
        self.log, self.during_read = log, during_read
        self.reads = 0

    def select_notifications(self, **kwargs: Any) -> Any:
        self.reads += 1
        if self.reads == 1:
            self.during_read()
        return self.log.select_notifications(**kwargs)


def deciding(table: FoldedTable, world: World) -> list[dict[str, Any]]:
    with decisions.deciding():
        return table.current([world.sku_ids[0]])


def watched(watch: LogWatch, log: CountedLog, lock: WatchedLock) -> None:
    watch.log = log  # type: ignore[assignment]
    watch.lock = lock  # type: ignore[assignment]


@pytest.fixture
def memory_ledger() -> Iterator[Ledger]:
    ledger = bootstrap(
        Settings(persistence=Persistence.MEMORY), ManualClock(datetime(2026, 11, 2, tzinfo=UTC))
    )
    yield ledger
    ledger.close()


def stock_table(ledger: Ledger, world: World) -> FoldedTable:
    table = ledger.orders.fulfilment.view.stock
    table.current([world.sku_ids[0]])  # seeded from the stored read model
    return table


def on_hand(rows: list[dict[str, Any]]) -> int:
    return sum(row["on_hand"] for row in rows)


def test_callers_queued_behind_a_look_at_the_log_share_the_next_one(
    memory_ledger: Ledger,
) -> None:
    world = build_world(memory_ledger)
    table = stock_table(memory_ledger, world)
    lock, log = WatchedLock(), CountedLog(table.watch.log)
    watched(table.watch, log, lock)
    results: list[list[dict[str, Any]]] = []
    with lock:
        threads = [
            threading.Thread(target=lambda: results.append(deciding(table, world)))
            for _ in range(CALLERS)
        ]
        for thread in threads:
            thread.start()
        lock.wait_for(CALLERS)
    for thread in threads:
        thread.join(5)
    assert log.reads == 1
    assert [on_hand(rows) for rows in results] == [STORE_STOCK] * CALLERS


def test_a_caller_asking_while_a_look_is_under_way_looks_again(memory_ledger: Ledger) -> None:
    world = build_world(memory_ledger)
    table = stock_table(memory_ledger, world)
    lock = WatchedLock()
    late: list[list[dict[str, Any]]] = []
    late_caller = threading.Thread(target=lambda: late.append(deciding(table, world)))

    def another_caller_asks_meanwhile() -> None:
        late_caller.start()
        lock.wait_for(1)

    log = CountedLog(table.watch.log, another_caller_asks_meanwhile)
    watched(table.watch, log, lock)
    first = deciding(table, world)
    late_caller.join(5)
    assert log.reads == 2
    assert on_hand(first) == on_hand(late[0]) == STORE_STOCK
