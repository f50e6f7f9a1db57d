"""Commands of one process in concurrency: turns on shared keys, and group commit.

Turns: commands of this process that name the same keys (the SKUs of a live stream's
offer) take turns. While one turn decides and saves, the commands arriving for its keys
wait; the next turn takes all of them at once: they decide one after another on the same
aggregates and are saved together (`LedgerApplication.execute`). A hot stock then takes
a whole queue of orders per transaction instead of one. Once a turn has lost a race on
its keys to another process, turns on them hold them against other processes too
(`ContendedKeys`, `advisory_locks`), so the processes' turns alternate.

Group commit: the commands of one process that finish deciding together are saved
in one transaction.

Every commit waits for its log flush, and SQLite (like the library's PostgreSQL
recorder, which GuideLedger replaces with `TransactionOrderRecorder`) lets one
writer of a table in at a time (`python -m bench.contention`). While one
transaction runs, the commands that finish deciding meanwhile queue up here; the
next of them saves the whole queue in one transaction, sharing one commit.

Every command stays all-or-nothing (its events, idempotency record included,
are in one transaction either way); a turn's commands, each deciding on what the
ones before it changed, stand or fall together. If the joint transaction is
refused because some command lost a race, each command (or turn) of the batch is
saved on its own, so only those that really lost are refused and re-run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

MAX_COMMANDS_PER_TRANSACTION = 100
MAX_COMMANDS_PER_TURN = 100
CONTENTION_MEMORY_SECONDS = 60.0

T = TypeVar("T")


@dataclass
class _Command:
    events: list[Any]
    aggregates: list[Aggregate]  # given to the save as well, so it still takes snapshots
    done: bool = False
    error: Exception | None = None

    def saved(self) -> list[Any]:
        """What the library's save is given: the events, then their aggregates (whose
        events are collected already) so it knows which to snapshot."""
        return [*self.events, *self.aggregates]


class GroupCommit:
    def __init__(
        self,
        save: Callable[..., object],
        limit: int = MAX_COMMANDS_PER_TRANSACTION,
    ) -> None:
        self._save = save  # the application's save
        self._limit = limit
        self._turn = threading.Lock()  # one transaction of this application at a time
        self._queue: deque[_Command] = deque()

    def save(self, events: Sequence[Any], aggregates: Sequence[Aggregate]) -> None:
        """Saves the events of one command or turn (collected from `aggregates`, which
        are given for snapshots), perhaps with others' in the same transaction; raises
        IntegrityError if they lost a race."""
        command = _Command(list(events), list(aggregates))
        self._queue.append(command)
        with self._turn:
            while not command.done:
                batch = [self._queue.popleft() for _ in range(min(self._limit, len(self._queue)))]
                if not batch:
                    raise RuntimeError("a command left the queue unsaved")  # never expected
                self._commit(batch)
        if command.error is not None:
            raise command.error

    def _commit(self, batch: Sequence[_Command]) -> None:
        if len(batch) > 1:
            try:
                self._save(*[item for command in batch for item in command.saved()])
            except IntegrityError:
                pass  # some command lost a race: find it by saving each alone
            except Exception as error:
                self._finish(batch, error)
                return
            else:
                self._finish(batch, None)
                return
        for command in batch:
            try:
                self._save(*command.saved())
            except Exception as error:
                self._finish([command], error)
            else:
                self._finish([command], None)

    @staticmethod
    def _finish(batch: Sequence[_Command], error: Exception | None) -> None:
        for command in batch:
            command.error, command.done = error, True


@dataclass(eq=False)
class _Waiter(Generic[T]):
    keys: frozenset[Hashable]
    item: T
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False  # its turn came; else, woken, another turn has run it


class Turns(Generic[T]):
    """Items of this process naming the same keys run in turns, each turn taking every
    item waiting on keys it holds.

    A turn holds its keys until it has run; an item finding one of its keys held, or
    wanted by an item that came earlier, waits. When a turn ends, the waiting items
    whose keys are all free, earliest first, start theirs. No item holds keys while it
    waits for others, so no two ever wait for each other; and an item waits only for
    those that came before it on its keys, so none waits for ever.
    """

    def __init__(self, limit: int = MAX_COMMANDS_PER_TURN) -> None:
        self._limit = limit
        self._guard = threading.Lock()
        self._held: set[Hashable] = set()
        self._waiting: list[_Waiter[T]] = []

    def run(self, keys: frozenset[Hashable], item: T, run: Callable[[list[T]], None]) -> None:
        """Runs `item` in a turn on `keys`: `run` is called, in this thread or in another
        turn's, with `item` and the items waiting on keys among those of the turn."""
        waiter = _Waiter(keys, item)
        with self._guard:
            waiter.leads = self._free(keys)
            if waiter.leads:
                self._held |= keys
            else:
                self._waiting.append(waiter)
        if not waiter.leads:
            waiter.woken.wait()
            if not waiter.leads:
                return
        joined = self._joining(keys)
        try:
            run([item, *(other.item for other in joined)])
        finally:
            self._pass_on(keys)
            for other in joined:
                other.woken.set()

    def _free(self, keys: frozenset[Hashable]) -> bool:
        return not keys & self._held and not any(keys & w.keys for w in self._waiting)

    def _joining(self, keys: frozenset[Hashable]) -> list[_Waiter[T]]:
        """The waiting items whose keys this turn holds, earliest first."""
        with self._guard:
            joined = [w for w in self._waiting if w.keys <= keys][: self._limit - 1]
            for other in joined:
                self._waiting.remove(other)
        return joined

    def _pass_on(self, keys: frozenset[Hashable]) -> None:
        with self._guard:
            self._held -= keys
            wanted = set(self._held)
            for waiter in list(self._waiting):
                if not waiter.keys & wanted:
                    self._held |= waiter.keys
                    self._waiting.remove(waiter)
                    waiter.leads = True
                    waiter.woken.set()
                wanted |= waiter.keys


class KeyLocks(Protocol):
    def holding(self, keys: frozenset[Hashable]) -> AbstractContextManager[None]:
        """Holds the keys against other processes until the block ends."""
        ...

    def close(self) -> None: ...


class NoKeyLocks:
    """For a store only one process writes (in memory, SQLite)."""

    def holding(self, keys: frozenset[Hashable]) -> AbstractContextManager[None]:
        return nullcontext()

    def close(self) -> None:
        """Nothing to release."""


class ContendedKeys:
    """The keys on which a turn of this process lost a race lately: turns on them hold
    them against other processes too (`KeyLocks`), so the processes' turns alternate.

    Holding keys costs round trips, so a key is held only once another process has been
    seen writing it, and for a minute after the last lost race."""

    def __init__(self, locks: KeyLocks, clock: Callable[[], float] = time.monotonic) -> None:
        self._locks = locks
        self._clock = clock
        self._guard = threading.Lock()
        self._until: dict[Hashable, float] = {}

    def holding(self, keys: frozenset[Hashable]) -> AbstractContextManager[None]:
        now = self._clock()
        if any(self._until.get(key, 0.0) > now for key in keys):
            return self._locks.holding(keys)
        return nullcontext()

    def lost_race(self, keys: frozenset[Hashable]) -> None:
        now = self._clock()
        with self._guard:
            self._until = {key: until for key, until in self._until.items() if until > now}
            self._until.update(dict.fromkeys(keys, now + CONTENTION_MEMORY_SECONDS))
