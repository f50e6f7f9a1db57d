"""Group commit: commands that finish deciding while a transaction runs share the next one;
a command that lost a race is refused alone."""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.eventstore.concurrency import GroupCommit
from guideledger.platform.clock import ManualClock


class Counter(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class FakeStore:
    """Records each transaction; refuses any transaction holding a loser's events."""

    def __init__(self, losers: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.transactions: list[list[str]] = []
        self.losers = losers
        self.first_started, self.release_first = threading.Event(), threading.Event()

    def save(self, *saved: Any) -> None:
        names = [e.name for e in saved if not isinstance(e, Aggregate)]  # events, not aggregates
        if not self.transactions:
            self.first_started.set()
            self.release_first.wait(5)
        if self.losers & set(names):
            raise IntegrityError("version conflict")
        self.transactions.append(names)


class WatchedQueue(deque[Any]):
    """The committer's queue, telling the test when commands have queued."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def append(self, item: Any) -> None:
        with self.changed:
            super().append(item)
            self.changed.notify_all()

    def wait_for(self, length: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self) >= length, timeout=5)


def watched(committer: GroupCommit) -> WatchedQueue:
    queue = WatchedQueue()
    committer._queue = queue
    return queue


def test_one_command_alone_is_one_transaction() -> None:
    store = FakeStore()
    store.release_first.set()
    committer = GroupCommit(store.save)
    committer.save([Counter("a"), Counter("b")])
    committer.save([Counter("c")])
    assert store.transactions == [["a", "b"], ["c"]]


def _save_while_the_first_transaction_runs(
    store: FakeStore, committer: GroupCommit, names: list[str]
) -> dict[str, Exception | None]:
    outcomes: dict[str, Exception | None] = {}
    queue = watched(committer)

    def save(name: str) -> None:
        try:
            committer.save([Counter(name)])
            outcomes[name] = None
        except IntegrityError as error:
            outcomes[name] = error

    first = threading.Thread(target=save, args=("first",))
    first.start()
    store.first_started.wait(5)
    others = [threading.Thread(target=save, args=(n,)) for n in names]
    for thread in others:
        thread.start()
    queue.wait_for(len(names))  # every other command has queued
    store.release_first.set()
    for thread in [first, *others]:
        thread.join(5)
    return outcomes


def test_commands_queued_behind_a_transaction_share_the_next_one() -> None:
    store = FakeStore()
    committer = GroupCommit(store.save)
    outcomes = _save_while_the_first_transaction_runs(store, committer, ["b", "c", "d"])
    assert outcomes == dict.fromkeys(["first", "b", "c", "d"])
    assert store.transactions[0] == ["first"]
    assert sorted(store.transactions[1]) == ["b", "c", "d"]
    assert len(store.transactions) == 2


def test_only_the_command_that_lost_a_race_is_refused() -> None:
    store = FakeStore(losers={"c"})
    committer = GroupCommit(store.save)
    outcomes = _save_while_the_first_transaction_runs(store, committer, ["b", "c", "d"])
    assert isinstance(outcomes.pop("c"), IntegrityError)
    assert outcomes == dict.fromkeys(["first", "b", "d"])
    assert sorted(name for t in store.transactions for name in t) == ["b", "d", "first"]


def test_a_failure_of_the_joint_transaction_reaches_every_command_in_it() -> None:
    store = FakeStore()
    committer = GroupCommit(store.save)
    failing = RuntimeError("database gone")

    def save_fails_after_first(*events: Any) -> None:
        if store.transactions:
            raise failing
        store.save(*events)

    committer._save = save_fails_after_first
    queue = watched(committer)
    threads_errors: list[BaseException] = []

    def save(name: str) -> None:
        with pytest.raises(RuntimeError) as raised:
            committer.save([Counter(name)])
        threads_errors.append(raised.value)

    first = threading.Thread(target=lambda: committer.save([Counter("first")]))
    first.start()
    store.first_started.wait(5)
    others = [threading.Thread(target=save, args=(n,)) for n in ("b", "c")]
    for thread in others:
        thread.start()
    queue.wait_for(2)
    store.release_first.set()
    for thread in [first, *others]:
        thread.join(5)
    assert threads_errors == [failing, failing]


class Counting(LedgerApplication):
    name = "counting"
    snapshotting_intervals = {Counter: 2}  # noqa: RUF012  (the library's shape)


def test_the_application_still_snapshots_what_it_saves_through_group_commit() -> None:
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    app = Counting(Runtime(clock, {"PERSISTENCE_MODULE": "eventsourcing.popo"}))
    counter = Counter("c")
    app.execute(Command("test"), lambda: ([counter], CommandResult(counter.id, 1)))

    def count() -> tuple[list[Aggregate], CommandResult]:
        loaded = app.load(Counter, counter.id)
        loaded.count_one()
        return [loaded], CommandResult(loaded.id, loaded.version)

    app.execute(Command("test"), count)
    assert app.snapshots is not None
    [snapshot] = app.snapshots.get(counter.id)
    assert snapshot.originator_version == 2
