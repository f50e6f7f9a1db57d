"""Read models in a PostgreSQL schema, through a connection pool; one process leads the
background catch-up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from guideledger.readmodels.sql import SQLReadModelStore

LEADER_CONNECTION: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    # A leader whose machine vanished (no FIN sent) holds its lock until the server
    # finds the connection dead: by its keepalives, asked for here (the server's
    # default waits two hours), within about 25 s.
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
    # And a leader whose server went silent finds out within 10 s, not a quarter hour.
    "tcp_user_timeout": 10_000,
}


class PostgresReadModelStore(SQLReadModelStore):
    placeholder = "%s"
    # A batch moves the position with an UPDATE of this row: while the row is held for
    # share, no batch commits, so the rows read next are those of the position read.
    share_lock = " FOR SHARE"

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
        lock goes with its connection, so a process that dies hands leadership on.

        The leader asks its connection each time: one that broke (its server restarted,
        or cut it off) holds the lock no more, and another process may lead by now."""
        with self._leader_lock:
            try:
                if self._leader is None or self._leader.closed:
                    self._leader = psycopg.connect(self.url, **LEADER_CONNECTION)
                    self._leading = False
                if self._leading:
                    self._leader.execute("SELECT 1")
                else:
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
