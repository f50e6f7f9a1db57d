"""A projection's table folded in this process's memory, following its log.

For what a command must read in every request (routing's stock and nodes, the guides of
a store): the stored read model is where it starts, and from then on the process reads
from the log only what was recorded since it last looked, one round trip, and no write.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application

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
    the stored read model holds. `index` names a column to find rows by. With `tracked`
    keys (the index column being the key), only those rows are kept, and asking for
    another one reads the tracked rows afresh."""

    def __init__(
        self,
        projection: Projection,
        table: Table,
        source: Application[Any],
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
        self.position: int | None = None
        self.lock = threading.Lock()

    def current(self, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Copies of the rows whose indexed column holds one of `values`, after reading
        what the log recorded since the last look."""
        with self.lock:
            if self.tracked is not None and not self.tracked.issuperset(values):
                self._track(values)
            self._follow()
            return [dict(row) for value in values for row in self.by_index.get(value, {}).values()]

    def _follow(self) -> None:
        if self.position is None:
            self._seed()
        assert self.position is not None
        while batch := self.source.recorder.select_notifications(
            start=self.position, limit=FOLLOW_BATCH, topics=self.topics, inclusive_of_start=False
        ):
            for notification in batch:
                for change in self.projection.changes(
                    self.source.mapper.to_domain_event(notification)
                ):
                    self._apply(change)
            self.position = batch[-1].id
            if len(batch) < FOLLOW_BATCH:
                return

    def _track(self, values: Sequence[Any]) -> None:
        assert self.tracked is not None
        if len(self.tracked) > MAX_TRACKED_KEYS:
            self.tracked.clear()
        self.tracked.update(values)
        self.rows.clear()
        self.by_index.clear()
        self.position = None

    def _seed(self) -> None:
        where = {} if self.tracked is None else {self.index: list(self.tracked)}
        position, rows = self.read_models.rows_at_position(type(self.projection), self.table, where)
        for row in rows:
            self._put(tuple(row[column] for column in self.table.key), row)
        self.position = position

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
