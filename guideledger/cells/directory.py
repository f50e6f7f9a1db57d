"""The directory: which cell (PostgreSQL server) holds each group's store.

A small PostgreSQL database of its own. A cell is a primary and its streaming replicas;
a placement names the cell and the schema of one group's store. A group without a
placement lives in the home store (the settings' own database), as every group did
before cells. A placement changes only by compare-and-set (`switch`), so two movers
never both win, and a moved group's former store is remembered until an operator drops
it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from guideledger.kernel.errors import Conflict, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    cell_id text PRIMARY KEY,
    primary_url text NOT NULL,
    replica_urls text[] NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS placements (
    group_id uuid PRIMARY KEY,
    cell_id text NOT NULL REFERENCES cells,
    schema text NOT NULL,
    placed_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS former_stores (
    group_id uuid NOT NULL,
    cell_id text NOT NULL REFERENCES cells,
    schema text NOT NULL,
    left_at timestamptz NOT NULL,
    PRIMARY KEY (cell_id, schema)
);
"""


class UnknownCell(NotFound):
    type = "unknown-cell"


class PlacementChanged(Conflict):
    type = "placement-changed"


@dataclass(frozen=True)
class Cell:
    cell_id: str
    primary_url: str
    replica_urls: list[str]

    def __repr__(self) -> str:  # the URLs may hold passwords
        return f"Cell({self.cell_id!r}, replicas={len(self.replica_urls)})"


@dataclass(frozen=True)
class Placement:
    group_id: UUID
    cell_id: str
    schema: str


@dataclass(frozen=True)
class FormerStore:
    group_id: UUID
    cell_id: str
    schema: str
    left_at: datetime


def store_schema(group_id: UUID) -> str:
    """The schema of a group's store on its cell."""
    return f"group_{group_id.hex}"


class Directory:
    def __init__(self, url: str) -> None:
        self.pool = ConnectionPool(
            url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True
        )
        with self.pool.connection() as connection:
            connection.execute("SELECT pg_advisory_lock(hashtext('guideledger-directory'))")
            try:
                connection.execute(SCHEMA)
            finally:
                connection.execute("SELECT pg_advisory_unlock(hashtext('guideledger-directory'))")

    def close(self) -> None:
        self.pool.close()

    def add_cell(self, cell_id: str, primary_url: str, replica_urls: Iterable[str] = ()) -> Cell:
        """Adds a cell, or changes its servers' URLs."""
        cell = Cell(cell_id, primary_url, list(replica_urls))
        with self.pool.connection() as connection:
            connection.execute(
                "INSERT INTO cells VALUES (%s, %s, %s) ON CONFLICT (cell_id) DO UPDATE "
                "SET primary_url = excluded.primary_url, replica_urls = excluded.replica_urls",
                (cell.cell_id, cell.primary_url, cell.replica_urls),
            )
        return cell

    def cells(self) -> list[Cell]:
        with self.pool.connection() as connection:
            cursor = connection.cursor(row_factory=class_row(Cell))
            return cursor.execute("SELECT * FROM cells ORDER BY cell_id").fetchall()

    def cell(self, cell_id: str) -> Cell:
        with self.pool.connection() as connection:
            cursor = connection.cursor(row_factory=class_row(Cell))
            found = cursor.execute("SELECT * FROM cells WHERE cell_id = %s", (cell_id,)).fetchone()
        if found is None:
            raise UnknownCell(f"no cell {cell_id!r} in the directory", field="cell_id")
        return found

    def placement(self, group_id: UUID) -> Placement | None:
        with self.pool.connection() as connection:
            return _placed(connection, group_id)

    def placements(self, cell_ids: Iterable[str] | None = None) -> list[Placement]:
        """Every placement, or those on the cells named."""
        query = "SELECT group_id, cell_id, schema FROM placements"
        named = None if cell_ids is None else list(cell_ids)
        with self.pool.connection() as connection:
            cursor = connection.cursor(row_factory=class_row(Placement))
            if named is None:
                return cursor.execute(query + " ORDER BY group_id").fetchall()
            return cursor.execute(
                query + " WHERE cell_id = ANY(%s) ORDER BY group_id", (named,)
            ).fetchall()

    def place(self, group_id: UUID, cell_id: str | None = None) -> Placement:
        """The group's placement: as it stands if placed, else on `cell_id` or, if none is
        named, on the cell holding the fewest groups."""
        with self.pool.connection() as connection, connection.transaction():
            connection.execute("LOCK TABLE placements IN SHARE ROW EXCLUSIVE MODE")
            if (placed := _placed(connection, group_id)) is not None:
                return placed
            chosen = self.cell(cell_id).cell_id if cell_id else _least_loaded(connection)
            connection.execute(
                "INSERT INTO placements VALUES (%s, %s, %s, %s)",
                (group_id, chosen, store_schema(group_id), datetime.now(UTC)),
            )
        return Placement(group_id, chosen, store_schema(group_id))

    def switch(self, placed: Placement, cell_id: str) -> Placement:
        """Moves the group's entry from `placed` to the same schema on `cell_id`, if it is
        still `placed`; remembers the former store."""
        moved = Placement(placed.group_id, cell_id, placed.schema)
        now = datetime.now(UTC)
        with self.pool.connection() as connection, connection.transaction():
            changed = connection.execute(
                "UPDATE placements SET cell_id = %s, placed_at = %s "
                "WHERE group_id = %s AND cell_id = %s AND schema = %s",
                (cell_id, now, placed.group_id, placed.cell_id, placed.schema),
            ).rowcount
            if changed != 1:
                raise PlacementChanged("the group's placement changed meanwhile")
            connection.execute(
                "INSERT INTO former_stores VALUES (%s, %s, %s, %s)",
                (placed.group_id, placed.cell_id, placed.schema, now),
            )
        return moved

    def former_stores(self) -> list[FormerStore]:
        with self.pool.connection() as connection:
            cursor = connection.cursor(row_factory=class_row(FormerStore))
            return cursor.execute("SELECT * FROM former_stores ORDER BY left_at").fetchall()

    def forget_former_store(self, cell_id: str, schema: str) -> None:
        with self.pool.connection() as connection:
            connection.execute(
                "DELETE FROM former_stores WHERE cell_id = %s AND schema = %s", (cell_id, schema)
            )


def _placed(connection: psycopg.Connection[tuple[object, ...]], group_id: UUID) -> Placement | None:
    cursor = connection.cursor(row_factory=class_row(Placement))
    return cursor.execute(
        "SELECT group_id, cell_id, schema FROM placements WHERE group_id = %s", (group_id,)
    ).fetchone()


def _least_loaded(connection: psycopg.Connection[tuple[object, ...]]) -> str:
    row = connection.execute(
        "SELECT c.cell_id FROM cells c LEFT JOIN placements p USING (cell_id) "
        "GROUP BY c.cell_id ORDER BY count(p.group_id), c.cell_id LIMIT 1"
    ).fetchone()
    if row is None:
        raise UnknownCell("the directory has no cells: add one first")
    return str(row[0])
