"""Reads that tolerate staleness, served by a cell's streaming replica.

A command answers with its commit position: the primary's WAL position once it is done.
A query may name a position it must reflect; it is served by the replica once the
replica has replayed that far and the read models it reads have caught up there with
every event the replica holds, else (after `PATIENCE_SECONDS`) by the primary, which
catches the read models up itself. Without a position, the replica serves what it has.
Either way the response says where it was read and how fresh that is.

The replica's read models are the primary's, streamed: the worker keeps them current on
the primary, and nothing is written on the replica.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from guideledger.eventstore.log import PostgresAggregateLog
from guideledger.kernel.errors import InvalidValue
from guideledger.readmodels.model import Follower, Projection, ReadModels, Table, Where
from guideledger.readmodels.postgres import PostgresReadModelStore
from guideledger.readmodels.runner import ProjectionRunner

PATIENCE_SECONDS = 0.5  # how long a query waits for the replica before asking the primary
POLL_SECONDS = 0.02


class ReplicaReadModelStore(PostgresReadModelStore):
    """Read models on a hot standby: read, never written (a standby takes no row locks)."""

    share_lock = ""


@dataclass(frozen=True)
class Freshness:
    """Where a response was read, the WAL position it reflects at least, and how far the
    replica trailed the primary's last commit it had replayed (0 on the primary)."""

    source: str
    position: str
    staleness_seconds: float

    def headers(self) -> dict[str, str]:
        headers = {"Read-Source": self.source, "Read-Staleness": f"{self.staleness_seconds:.3f}"}
        if self.position:
            headers["Read-Position"] = self.position
        return headers


def commit_position(store: PostgresReadModelStore) -> str:
    """The primary's WAL position now: every commit so far lies at or before it."""
    with store.reading() as cursor:
        row = cursor.execute("SELECT pg_current_wal_lsn()::text AS lsn").fetchone()
    return str(row["lsn"])


def parse_position(text: str) -> str:
    """A WAL position as PostgreSQL writes it (`16/B374D848`), or refused."""
    if re.fullmatch(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}", text) is None:
        raise InvalidValue("a position is a WAL position such as 0/16B3748", field="Read-After")
    return text.upper()


class Replica:
    """One group's store as a cell's streaming replica holds it."""

    def __init__(self, url: str, schema: str, pool_size: int) -> None:
        self.store = ReplicaReadModelStore(url, schema, pool_size)

    def freshness(self) -> Freshness:
        with self.store.reading() as cursor:
            row = cursor.execute(
                "SELECT pg_last_wal_replay_lsn()::text AS lsn,"
                " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS behind"
            ).fetchone()
        return Freshness("replica", str(row["lsn"]), float(row["behind"] or 0))

    def has_replayed(self, position: str) -> bool:
        with self.store.reading() as cursor:
            row = cursor.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AS reached", (position,)
            ).fetchone()
        return bool(row["reached"])

    def reached(self, position: str | None) -> bool:
        """Whether the replica has replayed `position` (any, if None), waiting up to
        `PATIENCE_SECONDS` for it."""
        return position is None or _within_patience(lambda: self.has_replayed(position))

    def log(self, events: sql.Identifier) -> PostgresAggregateLog:
        """An events table of the store as the replica holds it."""
        return PostgresAggregateLog(self.store.pool.connection, events)

    def caught_up(self, follower: Follower, events: sql.Identifier) -> bool:
        """No event the follower handles lies past its position on the replica."""
        statement = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE notification_id > %s AND topic = ANY(%s))"
            " AS waiting"
        ).format(events)
        position = self.store.position(follower.name)
        with self.store.reading() as cursor:
            row = cursor.execute(statement, (position, follower.topics())).fetchone()
        return not row["waiting"]

    def close(self) -> None:
        self.store.close()


class ReplicaReads(ReadModels):
    """The read models one query reads: the replica's, or the primary's once the replica
    has not reached `after` in time; `told` hears where they are read and how fresh."""

    def __init__(
        self,
        replica: Replica,
        primary: ProjectionRunner,
        after: str | None,
        told: Callable[[Freshness], None],
    ) -> None:
        self.replica, self.primary, self.after, self.told = replica, primary, after, told
        self._on_primary = False
        told(replica.freshness())

    def catch_up(self, projection: type[Projection]) -> None:
        if not self._on_primary and self.after is not None and not self._reached(projection):
            self._on_primary = True
            self.told(Freshness("primary", commit_position(self.primary_store), 0.0))
        if self._on_primary:
            self.primary.catch_up(projection)

    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        return self._reading.select(table, where, order_by, limit, offset)

    def rows_at_position(
        self, projection: type[Projection], table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        return self._reading.rows_at_position(projection.name, table, where)

    @property
    def primary_store(self) -> PostgresReadModelStore:
        store = self.primary.store
        assert isinstance(store, PostgresReadModelStore)
        return store

    @property
    def _reading(self) -> PostgresReadModelStore:
        return self.primary_store if self._on_primary else self.replica.store

    def _reached(self, projection: type[Projection]) -> bool:
        """Waits up to `PATIENCE_SECONDS` for the replica to replay `after` and for the
        projection to stand past every event the replica holds."""
        assert self.after is not None
        follower = self.primary.projections[projection.name]
        events = self.primary.sources[follower.application].recorder
        table: sql.Identifier = events.table  # type: ignore[attr-defined]
        after = self.after

        def reached() -> bool:
            return self.replica.has_replayed(after) and self.replica.caught_up(follower, table)

        if not _within_patience(reached):
            return False
        self.told(self.replica.freshness())
        return True


def _within_patience(condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds, asked every `POLL_SECONDS` for `PATIENCE_SECONDS`."""
    deadline, pause = time.monotonic() + PATIENCE_SECONDS, threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False
        pause.wait(POLL_SECONDS)
    return True
