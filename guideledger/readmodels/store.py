"""Where read models live: the port every store offers, and the store in memory.

`apply` writes a batch of row changes and moves the projection's position in
the same transaction, and only if the position is still where the caller read
it: two processes catching up the same projection can never both apply a batch.
The SQL stores are in `sql`, `sqlite` and `postgres`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from guideledger.readmodels.model import (
    Delete,
    Follower,
    Increment,
    RowChange,
    Table,
    Upsert,
    Where,
    encode_value,
)


class ReadModelStore(ABC):
    def leads_background_work(self) -> bool:
        """Whether this process should run the background catch-up now. One process at a
        time does; another would repeat its work and lose the race for each position.
        Only an economy: positions move by compare-and-set whoever applies a batch."""
        return True

    def install(self, projection: Follower) -> None:
        """Creates the projection's tables and its position (0) if missing."""
        self.create_tables(projection.tables)
        self.install_position(projection.name)

    @abstractmethod
    def install_position(self, name: str) -> None:
        """A position (0) under `name` if missing."""

    @abstractmethod
    def create_tables(self, tables: Sequence[Table]) -> None: ...

    @abstractmethod
    def uninstall(self, projection: Follower) -> None:
        """Drops the projection's tables and its position (a retired read model version)."""

    @abstractmethod
    def insert_if_absent(self, table: Table, key: tuple[Any, ...], values: dict[str, Any]) -> None:
        """Writes the row unless one with that key exists (the first writer wins)."""

    @abstractmethod
    def delete(self, table: Table, key: tuple[Any, ...]) -> None: ...

    @abstractmethod
    def position(self, name: str) -> int: ...

    @abstractmethod
    def apply(self, name: str, expected: int, new: int, changes: Sequence[RowChange]) -> bool:
        """Applies `changes` and moves the position; False if another writer moved it first."""

    @abstractmethod
    def rows_at_position(
        self, name: str, table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        """The rows of one of a projection's tables matching `where` and the position they
        stand at, read together (no batch applied between the two reads)."""

    @abstractmethod
    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    def close(self) -> None:
        """Releases connections."""


def encoded_key(table: Table, key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(encode_value(table.columns[c], v) for c, v in zip(table.key, key, strict=True))


def check_columns(table: Table, columns: Sequence[str]) -> None:
    unknown = set(columns) - set(table.columns)
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")


class MemoryReadModelStore(ReadModelStore):
    def __init__(self) -> None:
        self.rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self.positions: dict[str, int] = {}
        self.lock = threading.RLock()

    def install_position(self, name: str) -> None:
        with self.lock:
            self.positions.setdefault(name, 0)

    def uninstall(self, projection: Follower) -> None:
        with self.lock:
            for table in projection.tables:
                self.rows.pop(table.name, None)
            self.positions.pop(projection.name, None)

    def create_tables(self, tables: Sequence[Table]) -> None:
        with self.lock:
            for table in tables:
                self.rows.setdefault(table.name, {})

    def insert_if_absent(self, table: Table, key: tuple[Any, ...], values: dict[str, Any]) -> None:
        with self.lock:
            rows = self.rows[table.name]
            stored_key = encoded_key(table, key)
            if stored_key not in rows:
                row = dict(zip(table.key, stored_key, strict=True))
                row.update({c: encode_value(table.columns[c], v) for c, v in values.items()})
                rows[stored_key] = row

    def delete(self, table: Table, key: tuple[Any, ...]) -> None:
        with self.lock:
            self.rows[table.name].pop(encoded_key(table, key), None)

    def position(self, name: str) -> int:
        with self.lock:
            return self.positions[name]

    def apply(self, name: str, expected: int, new: int, changes: Sequence[RowChange]) -> bool:
        with self.lock:
            if self.positions[name] != expected:
                return False
            for change in changes:
                self._apply_one(change)
            self.positions[name] = new
            return True

    def rows_at_position(
        self, name: str, table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.lock:
            return self.positions[name], self.select(table, where)

    def _apply_one(self, change: RowChange) -> None:
        table = change.table
        rows = self.rows[table.name]
        key = tuple(
            encode_value(table.columns[c], v) for c, v in zip(table.key, change.key, strict=True)
        )
        if isinstance(change, Delete):
            rows.pop(key, None)
            return
        row = rows.get(key)
        if row is None:
            row = rows[key] = {c: None for c in table.columns} | dict(
                zip(table.key, key, strict=True)
            )
            if isinstance(change, Increment):
                row.update({c: encode_value(table.columns[c], v) for c, v in change.fixed.items()})
        if isinstance(change, Upsert):
            row.update({c: encode_value(table.columns[c], v) for c, v in change.values.items()})
        else:
            for column, delta in change.deltas.items():
                row[column] = (row[column] or 0) + delta

    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        check_columns(table, [*where, *order_by])
        wanted = {
            column: {encode_value(table.columns[column], v) for v in value}
            if isinstance(value, list | tuple | set | frozenset)
            else {encode_value(table.columns[column], value)}
            for column, value in where.items()
        }
        with self.lock:
            found = [
                dict(row)
                for row in self.rows[table.name].values()
                if all(row[c] in values for c, values in wanted.items())
            ]
        found.sort(key=lambda row: tuple(row[c] for c in (*order_by, *table.key)))
        end = None if limit is None else offset + limit
        return [table.decode_row(row) for row in found[offset:end]]

    def close(self) -> None:
        """Nothing to release."""
