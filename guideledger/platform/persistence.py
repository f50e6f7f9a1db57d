"""Turns settings into the eventsourcing library's per-application environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import psycopg
from eventsourcing.utils import get_topic
from psycopg import sql

from guideledger.eventstore.datastore import LedgerPostgresFactory
from guideledger.eventstore.recorder import TransactionOrderRecorder
from guideledger.platform.settings import Persistence, Settings

CONNECT_SECONDS = 5  # how long a connection to a server that does not answer is waited for


def eventsourcing_env(settings: Settings, application_name: str) -> dict[str, str]:
    """The environment for one application.

    Each application gets its own events table (PostgreSQL names it after the
    application; SQLite always calls it `stored_events`, so each application gets
    its own file). On PostgreSQL the events are recorded without the library's table
    lock (`TransactionOrderRecorder`).
    """
    # The cache fast-forwards each cached aggregate from the store on every read,
    # so writes by other processes are seen; it only saves re-reading old events.
    cache = {"AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size)}
    persistence = settings.resolved_persistence
    if persistence is Persistence.MEMORY:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo", **cache}
    if persistence is Persistence.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.data_dir / f"{application_name}.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "10",
            **cache,
        }
    return {
        "PERSISTENCE_MODULE": get_topic(LedgerPostgresFactory),
        "APPLICATION_RECORDER_TOPIC": get_topic(TransactionOrderRecorder),
        **postgres_env(settings),
        **cache,
    }


def postgres_env(settings: Settings) -> dict[str, str]:
    url = urlsplit(settings.database_conninfo)
    if url.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError(f"not a PostgreSQL URL: {url.scheme}://...")
    return {
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": settings.postgres_schema,
        **_pool_sizes(settings),
        # The library's pools wait this long for a connection (a free one, or a new one).
        "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_SECONDS),
        # No pre-ping: it costs a round trip per connection checkout, and the library
        # already retries every read and write on a broken connection.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
    }


def _pool_sizes(settings: Settings) -> dict[str, str]:
    """The library's pool keeps `POSTGRES_POOL_SIZE` connections open and opens up to
    `POSTGRES_MAX_OVERFLOW` more under load; a lazy pool keeps one."""
    size, overflow = settings.postgres_pool_size, settings.postgres_max_overflow
    if settings.postgres_pool_lazy:
        size, overflow = 1, size + overflow - 1
    return {"POSTGRES_POOL_SIZE": str(size), "POSTGRES_MAX_OVERFLOW": str(overflow)}


@contextmanager
def setup_turn(settings: Settings) -> Iterator[None]:
    """Holds this process's turn to set up the PostgreSQL schema, creating it if missing.

    The library creates its tables, types and functions at start (`CREATE OR REPLACE
    FUNCTION` even when they exist), and so do the read-model stores: processes
    starting together on one schema (server workers, an audit's parts) collide in
    the catalogue ("tuple concurrently updated"). A session advisory lock named
    after the schema makes them take turns; other backends need no turn."""
    if settings.resolved_persistence is not Persistence.POSTGRES:
        yield
        return
    schema = settings.postgres_schema
    conninfo = settings.database_conninfo
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_SECONDS) as connection:
        connection.execute(
            "SELECT pg_advisory_lock(hashtext(%s))", (f"guideledger-setup:{schema}",)
        )
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        yield  # the lock goes with the connection
