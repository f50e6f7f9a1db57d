"""Where read models live: SQL tables (SQLite or PostgreSQL) or memory.

`apply` writes a batch of row changes and moves the projection's position in
the same transaction, and only if the position is still where the caller read
it: two processes catching up the same projection can never both apply a batch.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

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

SQL_TYPES = {
    "text": "TEXT",
    "uuid": "TEXT",
    "int": "BIGINT",
    "real": "DOUBLE PRECISION",
    "bool": "SMALLINT",
    "timestamp": "TEXT",
}


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


def _encoded_key(table: Table, key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(encode_value(table.columns[c], v) for c, v in zip(table.key, key, strict=True))


def _check_columns(table: Table, columns: Sequence[str]) -> None:
    unknown = set(columns) - set(table.columns)
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")


class MemoryReadModelStore(ReadModelStore):
    def __init__(self) -> None:
        self.rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self.positions: dict[str, int] = {}
        self.lock = threading.Lock()

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
            encoded_key = _encoded_key(table, key)
            if encoded_key not in rows:
                row = dict(zip(table.key, encoded_key, strict=True))
                row.update({c: encode_value(table.columns[c], v) for c, v in values.items()})
                rows[encoded_key] = row

    def delete(self, table: Table, key: tuple[Any, ...]) -> None:
        with self.lock:
            self.rows[table.name].pop(_encoded_key(table, key), None)

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
        _check_columns(table, [*where, *order_by])
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


class SQLReadModelStore(ReadModelStore):
    """The SQL both SQLite and PostgreSQL understand; subclasses supply connections."""

    placeholder = "?"

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction, committed on success."""

    @abstractmethod
    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for one read statement, outside any explicit transaction."""

    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def install_position(self, name: str) -> None:
        with self.transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS projection_positions "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cursor.execute(
                self._sql(
                    "INSERT INTO projection_positions (name, position) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (name,),
            )

    def uninstall(self, projection: Follower) -> None:
        with self.transaction() as cursor:
            for table in projection.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table.name}")
            cursor.execute(
                self._sql("DELETE FROM projection_positions WHERE name = ?"), (projection.name,)
            )

    def create_tables(self, tables: Sequence[Table]) -> None:
        with self.transaction() as cursor:
            for table in tables:
                columns = ", ".join(f"{c} {SQL_TYPES[t]}" for c, t in table.columns.items())
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {table.name} "
                    f"({columns}, PRIMARY KEY ({', '.join(table.key)}))"
                )
                for index in table.indexes:
                    cursor.execute(
                        f"CREATE INDEX IF NOT EXISTS {table.name}_{'_'.join(index)}_idx "
                        f"ON {table.name} ({', '.join(index)})"
                    )

    def insert_if_absent(self, table: Table, key: tuple[Any, ...], values: dict[str, Any]) -> None:
        columns = (*table.key, *values)
        marks = ", ".join("?" for _ in columns)
        params = (
            *_encoded_key(table, key),
            *(encode_value(table.columns[c], v) for c, v in values.items()),
        )
        with self.transaction() as cursor:
            cursor.execute(
                self._sql(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) "
                    f"ON CONFLICT ({', '.join(table.key)}) DO NOTHING"
                ),
                params,
            )

    def delete(self, table: Table, key: tuple[Any, ...]) -> None:
        condition = " AND ".join(f"{c} = ?" for c in table.key)
        with self.transaction() as cursor:
            cursor.execute(
                self._sql(f"DELETE FROM {table.name} WHERE {condition}"), _encoded_key(table, key)
            )

    def position(self, name: str) -> int:
        with self.reading() as cursor:
            cursor.execute(
                self._sql("SELECT position FROM projection_positions WHERE name = ?"), (name,)
            )
            row = cursor.fetchone()
        return int(row["position"])

    def apply(self, name: str, expected: int, new: int, changes: Sequence[RowChange]) -> bool:
        try:
            with self.transaction() as cursor:
                cursor.execute(
                    self._sql(
                        "UPDATE projection_positions SET position = ? "
                        "WHERE name = ? AND position = ?"
                    ),
                    (new, name, expected),
                )
                if cursor.rowcount != 1:
                    raise _Raced
                # Consecutive changes of one shape go to the database as one batch.
                for _shape_key, group in groupby(changes, key=_shape):
                    statement, rows = self._statement(list(group))
                    cursor.executemany(self._sql(statement), rows)
        except _Raced:
            return False
        return True

    def _statement(self, batch: list[RowChange]) -> tuple[str, list[tuple[Any, ...]]]:
        first, table = batch[0], batch[0].table
        key_sql = ", ".join(table.key)

        def key_values(change: RowChange) -> tuple[Any, ...]:
            return tuple(
                encode_value(table.columns[c], v)
                for c, v in zip(table.key, change.key, strict=True)
            )

        if isinstance(first, Delete):
            condition = " AND ".join(f"{c} = ?" for c in table.key)
            return f"DELETE FROM {table.name} WHERE {condition}", [key_values(c) for c in batch]
        values = first.values if isinstance(first, Upsert) else {**first.fixed, **first.deltas}
        columns = list(values)
        marks = ", ".join("?" for _ in (*table.key, *columns))
        insert = f"INSERT INTO {table.name} ({', '.join((*table.key, *columns))}) VALUES ({marks})"
        if isinstance(first, Upsert):
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
            conflict = f"DO UPDATE SET {updates}" if columns else "DO NOTHING"
        else:
            conflict = "DO UPDATE SET " + ", ".join(
                f"{c} = COALESCE({table.name}.{c}, 0) + excluded.{c}" for c in first.deltas
            )
        rows = []
        for change in batch:
            data = (
                change.values if isinstance(change, Upsert) else {**change.fixed, **change.deltas}  # type: ignore[union-attr]
            )
            encoded = tuple(encode_value(table.columns[c], data[c]) for c in columns)
            rows.append(key_values(change) + encoded)
        return f"{insert} ON CONFLICT ({key_sql}) {conflict}", rows

    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        _check_columns(table, [*where, *order_by])
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in where.items():
            column_type = table.columns[column]
            if isinstance(value, list | tuple | set | frozenset):
                if not value:
                    return []
                conditions.append(f"{column} IN ({', '.join('?' for _ in value)})")
                params.extend(encode_value(column_type, v) for v in value)
            else:
                conditions.append(f"{column} = ?")
                params.append(encode_value(column_type, value))
        statement = f"SELECT * FROM {table.name}"
        if conditions:
            statement += " WHERE " + " AND ".join(conditions)
        statement += " ORDER BY " + ", ".join((*order_by, *table.key))
        if limit is not None:
            statement += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self.reading() as cursor:
            cursor.execute(self._sql(statement), params)
            return [table.decode_row(row) for row in cursor.fetchall()]


def _shape(change: RowChange) -> tuple[type, str, tuple[str, ...]]:
    if isinstance(change, Upsert):
        columns = tuple(change.values)
    elif isinstance(change, Increment):
        columns = (*change.fixed, "|", *change.deltas)
    else:
        columns = ()
    return type(change), change.table.name, columns


class _Raced(Exception):
    """Another writer moved the position first: roll the batch back."""


class SQLiteReadModelStore(SQLReadModelStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA busy_timeout=10000")
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.lock:
            cursor = self.connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.lock:
            yield self.connection.cursor()

    def close(self) -> None:
        self.connection.close()


class PostgresReadModelStore(SQLReadModelStore):
    placeholder = "%s"

    def __init__(self, url: str, schema: str, pool_size: int) -> None:
        self.url, self.schema = url, schema
        self._leader: psycopg.Connection[Any] | None = None  # holds the advisory lock
        self._leading = False
        self._leader_lock = threading.Lock()
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "options": f"-c search_path={schema}",
                "row_factory": dict_row,
                "autocommit": True,
            },
            open=True,
        )

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.pool.connection() as connection, connection.transaction():
            yield connection.cursor()

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.pool.connection() as connection:
            yield connection.cursor()

    def leads_background_work(self) -> bool:
        """The process holding a session advisory lock named after the schema leads; the
        lock goes with its connection, so a process that dies hands leadership on."""
        with self._leader_lock:
            try:
                if self._leader is None or self._leader.closed:
                    self._leader = psycopg.connect(self.url, autocommit=True)
                    self._leading = False
                if not self._leading:
                    row = self._leader.execute(
                        "SELECT pg_try_advisory_lock(hashtext(%s))",
                        (f"guideledger-projections:{self.schema}",),
                    ).fetchone()
                    self._leading = bool(row and row[0])
            except psycopg.OperationalError:
                self._drop_leader()
            return self._leading

    def _drop_leader(self) -> None:
        if self._leader is not None:
            self._leader.close()
        self._leader, self._leading = None, False

    def close(self) -> None:
        with self._leader_lock:
            self._drop_leader()
        self.pool.close()
