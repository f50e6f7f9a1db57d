"""What a cell's primary says of a store, as a mover reads it: connections that print rows
alike on every server (for the digests), the store's tables, their columns and how to
make them, and its transaction horizon."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from guideledger.cells.cells import CellUnavailable
from guideledger.cells.directory import Cell
from guideledger.eventstore.recorder import horizon as store_horizon

Connection = psycopg.Connection[tuple[Any, ...]]

TEXT_SETTINGS = [
    ("bytea_output", "hex"),
    ("extra_float_digits", "1"),
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
]
"""How both sides print a row for its digest, whatever their servers' defaults."""


@contextmanager
def connect(cell: Cell) -> Iterator[Connection]:
    """A connection to the cell's primary, printing rows alike for the digests."""
    try:
        connection = psycopg.connect(cell.primary_url, autocommit=True)
    except psycopg.OperationalError:
        raise CellUnavailable(f"cell {cell.cell_id} cannot be reached") from None
    with connection:
        for setting, value in TEXT_SETTINGS:
            connection.execute(sql.SQL("SET {} = {}").format(sql.SQL(setting), value))
        yield connection


@contextmanager
def snapshot(connection: Connection) -> Iterator[None]:
    """A transaction whose reads all see one snapshot, taken at its first read (after any
    lock it takes first)."""
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with connection.transaction():
            yield
    finally:
        connection.isolation_level = None


def horizon(connection: Connection, schema: str) -> tuple[int, int]:
    """The store's horizon, in its transaction ids (offset): every transaction below the
    first has ended; every one that has begun is below the second."""
    row = connection.execute(
        sql.SQL("SELECT settled_xid, next_xid FROM {}").format(store_horizon(schema))
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def table_names(connection: Connection, schema: str) -> list[str]:
    rows = connection.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        (schema,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def holds_rows(connection: Connection, schema: str, table: str) -> bool:
    row = connection.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(schema, table))
    ).fetchone()
    return bool(row and row[0])


def columns(connection: Connection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = connection.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (sql.Identifier(schema, table).as_string(connection),),
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def table_ddl(connection: Connection, schema: str, table: str) -> list[sql.SQL | sql.Composed]:
    """What makes the table as the source has it: its columns, constraints and indexes
    (the schema is named alike on both sides)."""
    relation = sql.Identifier(schema, table).as_string(connection)
    columns = connection.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (relation,),
    ).fetchall()
    constraints = connection.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
        "%s::regclass AND contype <> 'n' ORDER BY conname",
        (relation,),
    ).fetchall()
    indexes = connection.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (relation,),
    ).fetchall()
    parts = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(name), sql.SQL(kind), sql.SQL(" NOT NULL" if not_null else "")
        )
        for name, kind, not_null in columns
    ] + [
        sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(name), sql.SQL(definition))
        for name, definition in constraints
    ]
    create = sql.SQL("CREATE TABLE {} ({})").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(parts)
    )
    return [create, *(sql.SQL(definition) for (definition,) in indexes)]
