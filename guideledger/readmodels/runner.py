"""Catches projections up with their applications' notification logs, in batches.

The eventsourcing library's ProjectionRunner processes one event per
transaction and needs `subscribe`, which neither the SQLite recorder nor GuideLedger's
PostgreSQL recorder offers; this one polls the notification log (filtered to the topics
of the events a follower marks with `@on`) and applies up to `batch_size` events per
transaction, with the position in the same transaction. Notification ids are sparse
(on PostgreSQL they encode the writing transaction) and holes (rolled-back writes) are
simply never returned, so nothing waits for them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from guideledger.eventstore.recorder import events_after
from guideledger.readmodels.model import (
    Follower,
    ProcessManager,
    Projection,
    RowChange,
    Table,
    Where,
    coalesce,
)
from guideledger.readmodels.store import ReadModelStore

log = logging.getLogger("guideledger.projections")


class ProjectionRunner:
    """Keeps read models current and answers queries on them (the ReadModels port)."""

    def __init__(self, store: ReadModelStore, batch_size: int = 1000) -> None:
        self.store = store
        self.batch_size = batch_size
        self.sources: dict[str, Application[Any]] = {}
        self.projections: dict[str, Follower] = {}
        self._locks: dict[str, threading.Lock] = {}
        # The last position this process applied or read: a lower bound on the truth,
        # since positions only move forward. A stale one costs one refused apply.
        self._known: dict[str, int] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add_source(self, application: Application[Any]) -> None:
        self.sources[application.name] = application

    def register(self, projection: Follower) -> None:
        self.store.install(projection)
        self.projections[projection.name] = projection
        self._locks[projection.name] = threading.Lock()

    def retire(self, name: str) -> None:
        """Stops keeping a projection and drops its tables (a discarded or replaced version)."""
        with self._locks[name]:
            projection = self.projections.pop(name)
            self._known.pop(name, None)
            self.store.uninstall(projection)
        del self._locks[name]

    # --- the ReadModels port ---------------------------------------------------------

    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        return self.store.select(table, where, order_by, limit, offset)

    def catch_up(self, projection: type[Follower]) -> None:
        self.process(projection.name)

    def rows_at_position(
        self, projection: type[Follower], table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        return self.store.rows_at_position(projection.name, table, where)

    # --- processing ----------------------------------------------------------------------

    def process(self, name: str, progress: Callable[[int], None] | None = None) -> int:
        """Applies every event recorded so far; returns how many were processed.

        `progress` hears the running count after each batch."""
        projection, lock = self.projections.get(name), self._locks.get(name)
        if projection is None or lock is None:
            return 0  # retired meanwhile
        source = self.sources[projection.application]
        topics = projection.topics()
        done = 0
        with lock:
            while True:
                position = self._known.get(name)
                if position is None:
                    position = self._known[name] = self.store.position(name)
                batch = source.recorder.select_notifications(
                    start=position, limit=self.batch_size, topics=topics, inclusive_of_start=False
                )
                if not batch:
                    return done
                changes = [
                    change
                    for notification in batch
                    for change in _effects(
                        projection, notification.id, source.mapper.to_domain_event(notification)
                    )
                ]
                if self.store.apply(name, position, batch[-1].id, coalesce(changes)):
                    self._known[name] = batch[-1].id
                    done += len(batch)
                    if progress:
                        progress(done)
                    if len(batch) < self.batch_size:
                        return done  # a short batch held all that was recorded before the call
                else:
                    del self._known[name]  # another process moved it: read it again

    def process_all(self) -> int:
        return sum(self.process(name) for name in list(self.projections))

    def backlog(self, name: str) -> int:
        """An upper bound on what `process` has to do: the source's events since (of every
        kind, counted: ids are sparse)."""
        source = self.sources[self.projections[name].application]
        return events_after(source.recorder, self.store.position(name))

    def caught_up(self, name: str) -> bool:
        """No event the projection handles is waiting for it."""
        projection = self.projections[name]
        source = self.sources[projection.application]
        waiting = source.recorder.select_notifications(
            start=self.store.position(name),
            limit=1,
            topics=projection.topics(),
            inclusive_of_start=False,
        )
        return not waiting

    def lag(self, name: str, now: datetime) -> tuple[int, float]:
        """(events behind, seconds behind): the events the projection still has to apply,
        and how long ago the oldest of them was recorded."""
        projection = self.projections[name]
        source = self.sources[projection.application]
        position = self.store.position(name)
        behind = source.recorder.select_notifications(
            start=position,
            limit=self.batch_size,
            topics=projection.topics(),
            inclusive_of_start=False,
        )
        if not behind:
            return 0, 0.0
        oldest: Any = source.mapper.to_domain_event(behind[0])
        return len(behind), max(0.0, (now - oldest.timestamp).total_seconds())

    def run(self, stopping: threading.Event, interval: float = 0.2) -> None:
        """Catches every follower up, again every `interval` seconds, until `stopping` is
        set: what a worker process does. Of several processes on one store, the one
        leading the background work does it (requests still catch up what they read)."""
        while not stopping.wait(interval):
            try:
                if self.store.leads_background_work():
                    self.process_each()
            except Exception:
                log.exception("projection catch-up failed; retrying")

    def process_each(self) -> None:
        """`process_all`, but a follower that fails (its broker down) holds back no other."""
        for name in list(self.projections):
            try:
                self.process(name)
            except Exception:
                log.exception("%s failed to catch up; retrying", name)

    def start(self, interval: float = 0.2) -> None:
        """`run` in a background thread of this process until `stop` (the embedded store's
        server has no worker process)."""
        self._thread = threading.Thread(
            target=self.run, args=(self._stopping, interval), name="projections", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _effects(follower: Follower, notification_id: int, event: object) -> Iterable[RowChange]:
    """A projection's row changes; a process manager reacts and changes no rows."""
    if isinstance(follower, ProcessManager):
        follower.react_at(notification_id, event)
        return ()
    assert isinstance(follower, Projection)
    return follower.changes(event)
