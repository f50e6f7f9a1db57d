"""Commands of one process in concurrency: group commit and striped locks.

Group commit: the commands of one process that finish deciding together are saved
in one transaction.

Every commit waits for its log flush, and SQLite (like the library's PostgreSQL
recorder, which GuideLedger replaces with `TransactionOrderRecorder`) lets one
writer of a table in at a time (`python -m bench.contention`). While one
transaction runs, the commands that finish deciding meanwhile queue up here; the
next of them saves the whole queue in one transaction, sharing one commit.

Every command stays all-or-nothing (its events, idempotency record included,
are in one transaction either way). If the joint transaction is refused because
some command lost a race, each command of the batch is saved on its own, so only
the commands that really lost are refused and re-run.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

MAX_COMMANDS_PER_TRANSACTION = 100


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

    def save(self, aggregates: Iterable[Aggregate]) -> None:
        """Saves the aggregates' new events, perhaps with other commands' in the same
        transaction; raises IntegrityError if this command lost a race."""
        touched = list(aggregates)
        command = _Command([event for a in touched for event in a.collect_events()], touched)
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


class StripedLocks:
    """Makes commands of this process that touch the same keys take turns.

    Optimistic concurrency keeps commands correct across processes, but inside one
    process, concurrent commands on a hot aggregate (a promotion's SKU) would mostly
    decide in vain and retry; waiting for a turn is cheaper. Keys share a fixed
    number of locks, taken in index order so two commands never wait for each other.
    """

    def __init__(self, stripes: int = 1024) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextmanager
    def holding(self, keys: Iterable[Hashable]) -> Iterator[None]:
        with ExitStack() as stack:
            for index in sorted({hash(key) % len(self._locks) for key in keys}):
                stack.enter_context(self._locks[index])
            yield
