"""The library's PostgreSQL factory, with a datastore that refuses at once once closed.

The library tries every read and write ten times on the errors a lost connection raises,
and a closed pool raises one of those: a request still reading through a store that was
closed under it (its server was lost: `guideledger.cells`) would take two seconds to
fail, one request after another on an aggregate they all read (the library fast-forwards
a cached aggregate under a lock of its own), holding the server's threads meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.rows import DictRow


class StoreClosed(PersistenceError):
    """The store was closed: nothing was read or written (an error the library does not
    try again)."""


class ClosingDatastore(PostgresDatastore):
    closed = False

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        if self.closed:
            raise StoreClosed(f"the store {self.schema} is closed")
        with super().get_connection() as connection:
            yield connection

    def close(self) -> None:
        self.closed = True
        super().close()


class LedgerPostgresFactory(PostgresFactory):
    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The library builds its own datastore class; this one adds state only once
        # closed, so the object built is adopted as it is.
        self.datastore.__class__ = ClosingDatastore
