"""The SQL both SQLite and PostgreSQL understand; subclasses supply the connections."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
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
from guideledger.readmodels.store import ReadModelStore, check_columns, encoded_key

SQL_TYPES = {
    "text": "TEXT",
    "uuid": "TEXT",
    "int": "BIGINT",
    "real": "DOUBLE PRECISION",
    "bool": "SMALLINT",
    "timestamp": "TEXT",
}


class SQLReadModelStore(ReadModelStore):
    """The SQL both SQLite and PostgreSQL understand; subclasses supply connections."""

    placeholder = "?"
    #: Holds a position still while a transaction reads the rows it stands for.
    share_lock = ""

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
            *encoded_key(table, key),
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
                self._sql(f"DELETE FROM {table.name} WHERE {condition}"), encoded_key(table, key)
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

    def rows_at_position(
        self, name: str, table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        statement, params = _select_statement(table, where, (), None, 0)
        with self.transaction() as cursor:
            cursor.execute(
                self._sql(
                    f"SELECT position FROM projection_positions WHERE name = ?{self.share_lock}"
                ),
                (name,),
            )
            position = int(cursor.fetchone()["position"])
            if statement is None:
                return position, []
            cursor.execute(self._sql(statement), params)
            return position, [table.decode_row(row) for row in cursor.fetchall()]

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
        statement, params = _select_statement(table, where, order_by, limit, offset)
        if statement is None:
            return []
        with self.reading() as cursor:
            cursor.execute(self._sql(statement), params)
            return [table.decode_row(row) for row in cursor.fetchall()]


def _select_statement(
    table: Table, where: Where, order_by: Sequence[str], limit: int | None, offset: int
) -> tuple[str | None, list[Any]]:
    """The SELECT for `where` (with `?` placeholders), or None when an empty IN matches none."""
    check_columns(table, [*where, *order_by])
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in where.items():
        column_type = table.columns[column]
        if isinstance(value, list | tuple | set | frozenset):
            if not value:
                return None, []
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
    return statement, params


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
