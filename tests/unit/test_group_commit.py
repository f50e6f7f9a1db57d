"""Group commit: commands that finish deciding while a transaction runs share the next one;
a command that lost a race is refused alone. Turns: commands on the same keys that wait for
a turn decide in it one after another, on what the ones before them changed, and are saved
in one transaction; a refused one leaves the others be, a lost race is decided again."""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.commands import (
    Command,
    CommandResult,
    IdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyRecord,
)
from guideledger.eventstore.concurrency import (
    CONTENTION_MEMORY_SECONDS,
    ContendedKeys,
    GroupCommit,
)
from guideledger.kernel.errors import RuleViolated
from guideledger.platform.clock import ManualClock
from tests.turns import Watched, in_one_turn


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


class WatchedQueue(Watched, deque[Any]):
    """The committer's queue."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()


def commit(committer: GroupCommit, *aggregates: Aggregate) -> None:
    """Saves one command's aggregates through the committer."""
    committer.save([e for a in aggregates for e in a.collect_events()], aggregates)


def watched(committer: GroupCommit) -> WatchedQueue:
    queue = WatchedQueue()
    committer._queue = queue
    return queue


def test_one_command_alone_is_one_transaction() -> None:
    store = FakeStore()
    store.release_first.set()
    committer = GroupCommit(store.save)
    commit(committer, Counter("a"), Counter("b"))
    commit(committer, Counter("c"))
    assert store.transactions == [["a", "b"], ["c"]]


def _save_while_the_first_transaction_runs(
    store: FakeStore, committer: GroupCommit, names: list[str]
) -> dict[str, Exception | None]:
    outcomes: dict[str, Exception | None] = {}
    queue = watched(committer)

    def save(name: str) -> None:
        try:
            commit(committer, Counter(name))
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
            commit(committer, Counter(name))
        threads_errors.append(raised.value)

    first = threading.Thread(target=lambda: commit(committer, Counter("first")))
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


class Shelf(Aggregate):
    @event("Opened")
    def __init__(self, units: int) -> None:
        self.units = units

    def take(self, units: int) -> None:
        if units > self.units:
            raise RuleViolated("not enough units on the shelf", units=self.units)
        self._took(units)

    @event("Took")
    def _took(self, units: int) -> None:
        self.units -= units


class Shop(LedgerApplication):
    name = "shop"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.decisions = 0
        self.transactions: list[list[str]] = []  # the topics' last words, per transaction
        save = self.group_commit._save

        def recorded(*saved: Any) -> object:
            self.transactions.append(
                [type(e).__name__ for e in saved if not isinstance(e, Aggregate)]
            )
            return save(*saved)

        self.group_commit._save = recorded

    def take(self, command: Command, shelf_id: Any, units: int) -> CommandResult:
        def decide() -> tuple[list[Aggregate], CommandResult]:
            self.decisions += 1
            shelf = self.load(Shelf, shelf_id)
            shelf.take(units)
            return [shelf], CommandResult(shelf.id, shelf.version)

        return self.execute(command, decide, turn_keys=[shelf_id])


class HeldKeys:
    """Key locks recording which keys each turn held against other processes."""

    def __init__(self) -> None:
        self.turns: list[frozenset[Hashable]] = []

    @contextmanager
    def holding(self, keys: frozenset[Hashable]) -> Iterator[None]:
        self.turns.append(keys)
        yield

    def close(self) -> None:
        """Nothing to release."""


def shop_with_shelf(
    units: int, lost_races: list[str] | None = None, held: HeldKeys | None = None
) -> tuple[Shop, Any]:
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    hear = [].append if lost_races is None else lost_races.append
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    shop = Shop(Runtime(clock, env, hear, held or HeldKeys()))
    shelf = Shelf(units)
    shop.save(shelf)
    shop.transactions.clear()
    return shop, shelf.id


def in_shelf_turn(shop: Shop, shelf_id: Any, takes: list[tuple[Command, int]]) -> list[Any]:
    """Each take's outcome, all decided in one turn, in this order."""
    return in_one_turn(
        shop,
        [shelf_id],
        [functools.partial(shop.take, command, shelf_id, units) for command, units in takes],
    )


def test_a_turn_decides_on_what_the_commands_before_changed_and_saves_once() -> None:
    shop, shelf_id = shop_with_shelf(10)
    outcomes = in_shelf_turn(shop, shelf_id, [(Command(f"c{n}"), 3) for n in range(3)])
    assert outcomes == [CommandResult(shelf_id, version) for version in (2, 3, 4)]
    assert shop.transactions == [["Took", "Took", "Took"]]
    assert shop.load(Shelf, shelf_id).units == 1


def test_a_refused_command_leaves_the_rest_of_its_turn_be() -> None:
    shop, shelf_id = shop_with_shelf(5)
    first, refused, last = in_shelf_turn(
        shop, shelf_id, [(Command("a"), 3), (Command("b"), 3), (Command("c"), 2)]
    )
    assert isinstance(refused, RuleViolated)
    assert (first, last) == (CommandResult(shelf_id, 2), CommandResult(shelf_id, 3))
    assert shop.transactions == [["Took", "Took"]]
    assert shop.load(Shelf, shelf_id).units == 0


def test_a_key_used_twice_in_one_turn_answers_with_its_first_outcome() -> None:
    shop, shelf_id = shop_with_shelf(10)
    key = IdempotencyKey("double-click", "same-body")
    outcomes = in_shelf_turn(
        shop,
        shelf_id,
        [
            (Command("a", key), 3),
            (Command("a", key), 3),
            (Command("a", IdempotencyKey("double-click", "another-body")), 3),
        ],
    )
    assert outcomes[0] == outcomes[1] == CommandResult(shelf_id, 2)
    assert isinstance(outcomes[2], IdempotencyKeyReused)
    assert shop.transactions == [["Took", "Recorded"]]
    assert shop.load(Shelf, shelf_id).units == 7
    assert shop.exists(IdempotencyRecord, IdempotencyRecord.create_id("double-click"))


def test_a_turn_that_lost_a_race_is_decided_again_from_fresh_reads() -> None:
    lost_races: list[str] = []
    held = HeldKeys()
    shop, shelf_id = shop_with_shelf(9, lost_races, held)
    save = shop.group_commit._save
    rival_saved = False

    def rival_first(*saved: Any) -> object:
        """Another process takes 2 units just before the turn's transaction."""
        nonlocal rival_saved
        if not rival_saved:
            rival_saved = True
            rival = shop.load(Shelf, shelf_id)
            rival.take(2)
            shop.save(rival)
        return save(*saved)

    shop.group_commit._save = rival_first
    outcomes = in_shelf_turn(shop, shelf_id, [(Command(f"c{n}"), 3) for n in range(3)])
    assert outcomes[:2] == [CommandResult(shelf_id, 3), CommandResult(shelf_id, 4)]
    assert isinstance(outcomes[2], RuleViolated)
    assert lost_races == ["shop"] * 3
    assert shop.decisions == 6  # every command decided twice
    assert shop.load(Shelf, shelf_id).units == 1
    assert held.turns == [frozenset({shelf_id})]  # the second time, held against others


def test_keys_are_held_against_other_processes_for_a_while_after_a_lost_race() -> None:
    held, now = HeldKeys(), [100.0]
    contended = ContendedKeys(held, lambda: now[0])
    sku_a, sku_b = frozenset({"sku-a"}), frozenset({"sku-b"})
    with contended.holding(sku_a):
        pass
    contended.lost_race(sku_a)
    for keys in (sku_a, sku_b, sku_a | sku_b):
        with contended.holding(keys):
            pass
    now[0] += CONTENTION_MEMORY_SECONDS + 1
    with contended.holding(sku_a):
        pass
    assert held.turns == [sku_a, sku_a | sku_b]


def test_reads_go_back_to_the_outer_turns_shared_aggregates_after_an_inner_one() -> None:
    shop, shelf_id = shop_with_shelf(5)
    outer: dict[Any, Aggregate | None] = {}
    with shop.repository.sharing(outer):
        taken = shop.load(Shelf, shelf_id)
        taken.take(2)
        taken.collect_events()
        outer[shelf_id] = taken
        with shop.repository.sharing({}):
            assert shop.load(Shelf, shelf_id).units == 5
        assert shop.load(Shelf, shelf_id).units == 3
    assert shop.load(Shelf, shelf_id).units == 5
