"""Whether a cell's primary answers, asked of a connection kept open to it.

A request does not find out on its own in time: the event store's library tries each
read and write ten times, each waiting its pool's timeout for a connection, and a pool
that failed to connect waits longer and longer (up to minutes) before it tries again,
even once the server is back. So a process asks the primary of every cell it has stores
open on, every `WATCH_SECONDS`, and `Cells` refuses a cell that does not answer and
closes its stores there (see `Cells._lose`).
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

WATCH_SECONDS = 0.5  # how often each cell's primary is asked
ANSWER_SECONDS = 5  # how long a primary may take to connect or to answer
MISSES = 2  # asks in a row a primary must miss to be taken for lost
FULL = ("too many clients", "too many connections", "connection slots are reserved")
"""What a primary that answered but took no more connections says (SQLSTATE 53300, which
libpq reports only in the text of a failed connection)."""


class Pings:
    """One connection per cell, for `SELECT 1`; a broken one is opened afresh next time.

    A cell is lost only once it misses `MISSES` asks in a row: a process busy with a burst
    can be slow to hear one answer (its threads queue for the interpreter), while a
    stopped server refuses every connection at once."""

    def __init__(self) -> None:
        self._connections: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
        self._missed: dict[str, int] = {}

    def answers(self, cell_id: str, primary_url: str) -> bool:
        if self._answered(cell_id, primary_url):
            self._missed.pop(cell_id, None)
            return True
        self._missed[cell_id] = self._missed.get(cell_id, 0) + 1
        return self._missed[cell_id] < MISSES

    def _answered(self, cell_id: str, primary_url: str) -> bool:
        connection = self._connections.get(cell_id)
        try:
            if connection is None or connection.closed:
                connection = self._connections[cell_id] = psycopg.connect(
                    primary_url,
                    autocommit=True,
                    connect_timeout=ANSWER_SECONDS,
                    # A primary that went silent (not one that refuses) fails the
                    # query once the kernel has waited this long for its answer.
                    tcp_user_timeout=ANSWER_SECONDS * 1000,
                )
            connection.execute("SELECT 1")
        except psycopg.Error as error:
            self._forget(cell_id)
            return _full(error)
        return True

    def keep_only(self, cell_ids: Iterable[str]) -> None:
        """Closes the connections to cells no longer asked about."""
        for cell_id in set(self._connections) - set(cell_ids):
            self._forget(cell_id)
        for cell_id in set(self._missed) - set(cell_ids):
            del self._missed[cell_id]

    def close(self) -> None:
        self.keep_only(())

    def _forget(self, cell_id: str) -> None:
        connection = self._connections.pop(cell_id, None)
        if connection is not None:
            connection.close()


def answers_now(primary_url: str) -> bool:
    """Whether the primary takes a new connection, or answers that it is full."""
    try:
        psycopg.connect(primary_url, connect_timeout=ANSWER_SECONDS).close()
    except psycopg.Error as error:
        return _full(error)
    return True


def _full(error: psycopg.Error) -> bool:
    """Whether the server answered that it is full: it is up."""
    return any(words in str(error) for words in FULL)
