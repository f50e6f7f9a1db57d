"""A projection's table folded in this process's memory, following its log.

For what a command must read in every request (routing's stock and nodes, the guides of
a store): the stored read model is where it starts, and from then on the process takes
from the log only what was recorded since, read once per decision for all who follow
that log, and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification

from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.repository import decisions
from guideledger.readmodels.model import (
    Delete,
    Increment,
    Projection,
    ReadModels,
    RowChange,
    Table,
    Upsert,
)

FOLLOW_BATCH = 500
MAX_TRACKED_KEYS = 20_000


class FoldedTable:
    """One projection's table folded in memory: its rows by key, at a position in its log.

    The projection's own `@on` methods make the row changes, so the memory holds what
    the stored read model holds. It starts from the stored read model, catches up to its
    log's watch on its own, and from then on takes what the watch reads (shared with
    the cache's checks: one round trip per log and decision). `index` names a column to
    find rows by. With `tracked` keys (the index column being the key), only those rows
    are kept, and asking for another one reads the tracked rows afresh."""

    def __init__(
        self,
        projection: Projection,
        table: Table,
        source: LedgerApplication,
        read_models: ReadModels,
        index: str,
        tracked: set[Any] | None = None,
    ) -> None:
        self.projection, self.table, self.source = projection, table, source
        self.read_models = read_models
        self.index = index
        self.tracked = tracked
        self.topics = projection.topics()
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.by_index: dict[Any, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
        self.position: int | None = None  # what the rows hold, in the log's order
        self.watch = source.repository.watch
        self._following = False

    def current(self, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Copies of the rows whose indexed column holds one of `values`, as of this
        decision (or now, outside one)."""
        with self.watch.lock:
            if self.tracked is not None and not self.tracked.issuperset(values):
                self._track(values)
            if self.position is None:
                self._start()
            self.watch.look(decisions.current)
            return [dict(row) for value in values for row in self.by_index.get(value, {}).values()]

    def _start(self) -> None:
        """Seeds the rows from the read model, then catches up to the watch on its own."""
        where = {} if self.tracked is None else {self.index: list(self.tracked)}
        position, rows = self.read_models.rows_at_position(type(self.projection), self.table, where)
        for row in rows:
            self._put(tuple(row[column] for column in self.table.key), row)
        self.position = position
        if not self._following:
            self.watch.follow(self._fold)
            self._following = True
        watched = self.watch.position
        assert watched is not None
        while self.position < watched and (
            batch := self.source.recorder.select_notifications(
                start=self.position,
                limit=FOLLOW_BATCH,
                stop=watched,
                topics=self.topics,
                inclusive_of_start=False,
            )
        ):
            self._fold(batch)
        self.position = max(self.position, watched)

    def _fold(self, batch: Sequence[Notification]) -> None:
        if self.position is None:
            return  # not started (or tracking anew): the next start reads the read model
        topics = self.topics
        for notification in batch:
            if notification.id > self.position and notification.topic in topics:
                for change in self.projection.changes(
                    self.source.mapper.to_domain_event(notification)
                ):
                    self._apply(change)
        self.position = max(self.position, batch[-1].id)

    def _track(self, values: Sequence[Any]) -> None:
        assert self.tracked is not None
        if len(self.tracked) > MAX_TRACKED_KEYS:
            self.tracked.clear()
        self.tracked.update(values)
        self.rows.clear()
        self.by_index.clear()
        self.position = None

    def _apply(self, change: RowChange) -> None:
        key = tuple(change.key)
        if change.table is not self.table or (
            self.tracked is not None and key[0] not in self.tracked
        ):
            return
        if isinstance(change, Delete):
            row = self.rows.pop(key, None)
            if row is not None:
                self.by_index[row[self.index]].pop(key, None)
            return
        row = self.rows.get(key)
        if row is None:
            row = {column: None for column in self.table.columns}
            row.update(zip(self.table.key, key, strict=True))
            if isinstance(change, Increment):
                row.update(change.fixed)
        if isinstance(change, Upsert):
            row.update(change.values)
        else:
            for column, delta in change.deltas.items():
                row[column] = (row[column] or 0) + delta
        self._put(key, row)

    def _put(self, key: tuple[Any, ...], row: dict[str, Any]) -> None:
        before = self.rows.get(key)
        if before is not None and before[self.index] != row[self.index]:
            self.by_index[before[self.index]].pop(key, None)
        self.rows[key] = row
        self.by_index[row[self.index]][key] = row
