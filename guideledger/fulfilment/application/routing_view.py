"""What routing chooses from, kept in this process's memory.

Placing an order used to catch the stock, node and daily-load read models up and select
from them: write transactions and several round trips in every request. The routing view
folds the same projections (`StockAvailability`, `NodeDirectory`, `NodeDailyLoads`) into
memory instead: it starts from the stored read models at their positions, then reads from
each log only what was recorded since it last looked, one round trip per table. Daily
loads are kept only for the nodes and days routing asked about (the table grows by a row
per node and day). It sees every write this process
made; another process's last write it may see a moment late. The stock aggregates judge
every reservation, so a stale figure costs a second routing round, never an oversold unit.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from guideledger.fulfilment.application.projections import (
    NODE_DAILY_LOADS,
    NODES,
    STOCK_AVAILABILITY,
    NodeDailyLoads,
    NodeDirectory,
    StockAvailability,
)
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
MAX_TRACKED_LOADS = 20_000


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
        self.looks = 0  # reads of the log begun so far, each under the lock

    def current(self, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Copies of the rows whose indexed column holds one of `values`, after reading
        what the log recorded since the last look.

        Callers queueing for the lock share a look: one that began after a caller asked
        has read everything recorded before it asked, so the caller need not look again
        (a hot SKU's buyers would otherwise each read the log in turn)."""
        asked = self.looks
        with self.lock:
            if self.tracked is not None and not self.tracked.issuperset(values):
                self._track(values)
            if self.position is None or self.looks == asked:
                self.looks += 1
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
        if len(self.tracked) > MAX_TRACKED_LOADS:
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


class RoutingView:
    """Stock available per node and SKU, and where the nodes are and whether they take
    orders, for routing."""

    def __init__(
        self, orders: Application[Any], organisation: Application[Any], read_models: ReadModels
    ) -> None:
        self.stock = FoldedTable(
            StockAvailability(), STOCK_AVAILABILITY, orders, read_models, index="sku_id"
        )
        self.nodes = FoldedTable(NodeDirectory(), NODES, organisation, read_models, "node_id")
        self.loads = FoldedTable(
            NodeDailyLoads(), NODE_DAILY_LOADS, orders, read_models, "load_id", tracked=set()
        )

    def available(self, brand_id: UUID, sku_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        """The brand's stock rows of these SKUs (on hand and reserved per node)."""
        return [row for row in self.stock.current(sku_ids) if row["brand_id"] == brand_id]

    def nodes_of(self, node_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        return self.nodes.current(node_ids)

    def orders_taken(self, load_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The orders each of these daily loads took (`NodeDailyLoad.create_id`)."""
        return {row["load_id"]: row["orders"] for row in self.loads.current(load_ids)}
