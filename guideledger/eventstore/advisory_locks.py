"""Keys held across processes with PostgreSQL advisory locks, for turns on contended keys.

Turns keep the commands of one process on the same keys in series; two processes
placing orders for a hot SKU would still race, and a turn losing its race decides all
its commands again. A turn on keys another process contends for holds them here too
(as Message DB serialises a stream category's writers with an advisory lock), so the
processes' turns alternate instead of colliding.

Each turn holding keys has a connection of its own, outside the pool its commands read
and save through: a turn holding keys waits for pooled connections, so it must never
wait for one held by a turn that waits for its keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

import psycopg

MAX_TURNS_HOLDING_KEYS = 4  # connections; more turns wait for one
LOCK_TIMEOUT = "5s"  # a turn waiting longer for keys goes on without them


def lock_id(namespace: str, key: Hashable) -> int:
    """The advisory lock's 64-bit id: the same for a key in every process (Python's own
    `hash` of a string differs between processes)."""
    digest = hashlib.blake2b(f"{namespace}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLocks:
    """Holds keys across the processes sharing a database, until the turn ends.

    Locks are taken in the order of their ids, so two processes' turns never wait for
    each other. If the connection breaks, the server releases its locks.
    """

    def __init__(
        self, conninfo: str, namespace: str, connections: int = MAX_TURNS_HOLDING_KEYS
    ) -> None:
        self._conninfo = conninfo
        self._namespace = namespace  # the schema and the application: locks span a database
        self._slots = threading.BoundedSemaphore(connections)
        self._guard = threading.Lock()
        self._idle: list[psycopg.Connection[tuple[object, ...]]] = []
        # One connection from the start: under load, the database may have none to spare
        # by the time keys are first contended.
        with contextlib.suppress(psycopg.Error):
            self._idle.append(self._connection())

    @contextmanager
    def holding(self, keys: frozenset[Hashable]) -> Iterator[None]:
        """Holds the keys until the block ends; if the database refuses a connection or a
        lock, the block runs without them (optimistic concurrency keeps it correct)."""
        ids = sorted({lock_id(self._namespace, key) for key in keys})
        with self._slots:
            connection = self._locked(ids)
            try:
                yield
            finally:
                if connection is not None:
                    self._release(connection)

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _locked(self, ids: list[int]) -> psycopg.Connection[tuple[object, ...]] | None:
        """A connection holding the locks, or None if the database refused."""
        connection = None
        try:
            connection = self._connection()
            for each in ids:
                connection.execute("SELECT pg_advisory_lock(%s)", (each,))
        except psycopg.Error:
            if connection is not None:
                connection.close()  # the server releases what it held
            return None
        return connection

    def _release(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        try:
            connection.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            connection.close()  # the server releases what it held
            return
        with self._guard:
            self._idle.append(connection)

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        with self._guard:
            if self._idle:
                return self._idle.pop()
        return psycopg.connect(
            self._conninfo, autocommit=True, options=f"-c lock_timeout={LOCK_TIMEOUT}"
        )
