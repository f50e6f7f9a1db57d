"""A PostgreSQL application recorder whose writers take no table lock.

The library's recorder takes `LOCK TABLE … IN EXCLUSIVE MODE` in every write, so
that notification ids become visible in the order they were given out and a reader
tailing the log never passes an id that commits later. That serialises every writer
of an events table from the lock to the commit.

Here, as in Emmett and Message DB, an event's place in the log is its writing
transaction's id, then its row in that transaction's insert:

    notification_id = transaction id * 2**20 + row number (from 0)

and readers take only rows below the transaction horizon,
`pg_snapshot_xmin(pg_current_snapshot())`: every transaction with a lower id has
ended, and no transaction can get a lower id later, so nothing can ever appear
below it. Ids are sparse and do not follow commit order, but they follow cause:
a transaction gets its id at its insert, after it read what it decided on, so an
event comes after every event its writer had read (one aggregate's versions
included). A rolled-back transaction leaves no rows.

A reader waits (at most `SETTLE_SECONDS`) for the transactions in flight when it
was called, so it sees every event committed before the call, its own included,
as with the library's recorder. The horizon is the whole cluster's: a long
transaction on any database of the server holds every reader back until it ends.

A store copied from another server (a group moved between cells) keeps its events'
ids, given by that server's transactions, while the new server's transaction ids may
be far lower. So each store counts its transactions from an offset of its own and
reads its horizon on the same count:

    notification_id = (transaction id + offset) * 2**20 + row number

The offset is the SQL function `xid_offset()` of the store's schema (made returning
0), replaced once when the store is copied in, before it is used. Being immutable it
costs nothing (the planner folds it in), and replacing it makes every server process
plan its statements again.

Existing tables keep their rows and ids (the library's small ids sort before any
new one); their id sequence is retired, so a writer still using the library's
recorder fails instead of writing ids in the past. The library's LISTEN/NOTIFY
subscription is not offered (NOTIFY serialises the commits of the whole cluster):
followers poll `select_notifications`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Notification,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.utils import retry
from psycopg import Cursor, sql
from psycopg.rows import DictRow

log = logging.getLogger("guideledger.eventstore")

ROW_BITS = 20
ROWS_PER_TRANSACTION = 1 << ROW_BITS


def notification_id(transaction_id: int, row: int) -> int:
    """The log position of the `row`th event (from 0) written by a transaction."""
    if not 0 <= row < ROWS_PER_TRANSACTION:
        raise ProgrammingError(f"one transaction writes at most {ROWS_PER_TRANSACTION} events")
    return (transaction_id << ROW_BITS) + row


OFFSET_FUNCTION = "xid_offset"


def xid_offset(schema: str) -> sql.Composed:
    """The store's transaction id offset, as an SQL expression."""
    return sql.SQL("{}()").format(sql.Identifier(schema, OFFSET_FUNCTION))


def set_xid_offset(schema: str, xids: int) -> sql.Composed:
    """The statement setting the store's offset (only before the store is used)."""
    return _offset_function(schema, xids, "CREATE OR REPLACE")


def _offset_function(schema: str, xids: int, create: str) -> sql.Composed:
    return sql.SQL(
        "{} FUNCTION {}() RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS {}"
    ).format(
        sql.SQL(create),
        sql.Identifier(schema, OFFSET_FUNCTION),
        sql.Literal(f"SELECT {int(xids)}::bigint"),
    )


def horizon(schema: str) -> sql.Composed:
    """The store's horizon as a table of one row: `settled_xid`, below which every
    transaction has ended, and `next_xid`, the next one to begin (both offset)."""
    return sql.SQL(
        "(SELECT pg_snapshot_xmin(s)::text::bigint + {offset} AS settled_xid,"
        " pg_snapshot_xmax(s)::text::bigint + {offset} AS next_xid"
        " FROM pg_current_snapshot() AS s) AS horizon"
    ).format(offset=xid_offset(schema))


def _offset_made_if_missing(schema: str) -> sql.Composed:
    """An offset of 0 for a store without one; one already set stays (and of processes
    making it at once, one does)."""
    return sql.SQL(
        "DO $$ BEGIN IF to_regprocedure({name}) IS NULL THEN BEGIN {create}; EXCEPTION"
        " WHEN duplicate_function OR unique_violation THEN NULL; END; END IF; END $$"
    ).format(
        name=sql.Literal(xid_offset(schema).as_string()),
        create=_offset_function(schema, 0, "CREATE"),
    )


_BELOW_HORIZON = sql.SQL("notification_id < horizon.settled_xid * {}").format(
    sql.Literal(ROWS_PER_TRANSACTION)
)
_COLUMNS = sql.SQL("notification_id, originator_id, originator_version, topic, state")


class TransactionOrderRecorder(PostgresApplicationRecorder):
    """Notification ids ordered by writing transaction; readers stop at the horizon."""

    SETTLE_SECONDS = 5.0
    """How long a read waits for the transactions in flight when it was called; after
    that it returns what has settled (still never skipping anything later)."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.enable_db_functions:
            raise ProgrammingError("POSTGRES_ENABLE_DB_FUNCTIONS inserts with the id sequence")
        super().__init__(datastore, events_table_name=events_table_name)
        self.table = sql.Identifier(datastore.schema, events_table_name)
        # No sequence for new tables, and no insert function (it would use one).
        self.sql_create_statements[self.create_table_statement_index] = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "originator_id {originator_id_type} NOT NULL, "
            "originator_version bigint NOT NULL, "
            "topic text, "
            "state bytea, "
            "notification_id bigint NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version)) "
            # As the library's: an append-only table needs vacuuming rarely.
            "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000,"
            " autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000,"
            " autovacuum_analyze_scale_factor = 0.01)"
        ).format(table=self.table, originator_id_type=sql.Identifier(datastore.originator_id_type))
        del self.sql_create_statements[self.create_insert_function_statement_index]
        self.sql_create_statements.append(_offset_made_if_missing(datastore.schema))
        self.horizon = horizon(datastore.schema)
        self.xid_offset = xid_offset(datastore.schema)
        self.insert_events_statement = sql.SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state, notification_id)"
            " SELECT originator_id, originator_version, topic, state,"
            " (pg_current_xact_id()::text::bigint + {offset}) * {rows} + ordinality - 1"
            " FROM unnest(%s::{type}[]) WITH ORDINALITY"
            " RETURNING notification_id"
        ).format(
            table=self.table,
            offset=self.xid_offset,
            rows=sql.Literal(ROWS_PER_TRANSACTION),
            type=sql.Identifier(datastore.schema, self.stored_event_type_name),
        )

    # --- writing --------------------------------------------------------------------------

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as cursor:
            self._retire_id_sequence(cursor)
            self._refuse_ids_above_new_ones(cursor)

    def _retire_id_sequence(self, cursor: Cursor[DictRow]) -> None:
        """A table the library created takes ids from a sequence by default: drop the
        default (only if it is there: altering a table waits for all its readers)."""
        cursor.execute(
            "SELECT 1 FROM pg_attrdef d JOIN pg_attribute a"
            " ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
            " WHERE d.adrelid = %s::regclass AND a.attname = 'notification_id'",
            (self.table.as_string(),),
        )
        if cursor.fetchone() is not None:
            cursor.execute(
                sql.SQL("SET LOCAL lock_timeout = {}").format(
                    sql.Literal(f"{self.datastore.lock_timeout}s")
                )
            )
            cursor.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN notification_id DROP DEFAULT").format(
                    self.table
                )
            )

    def _refuse_ids_above_new_ones(self, cursor: Cursor[DictRow]) -> None:
        """New ids must come after every stored one, or readers would pass them by
        (a dump restored into a younger cluster, whose transaction ids are lower)."""
        cursor.execute(
            sql.SQL(
                "SELECT max(notification_id) AS highest,"
                " pg_current_xact_id()::text::bigint + {} AS xid FROM {}"
            ).format(self.xid_offset, self.table)
        )
        row = cursor.fetchone()
        assert row is not None
        if row["highest"] is not None and row["highest"] >= notification_id(row["xid"], 0):
            raise ProgrammingError(
                f"{self.events_table_name} holds notification id {row['highest']}, above the "
                f"ids this server's transactions give ({notification_id(row['xid'], 0)}): "
                "advance its transaction ids past the stored ones before writing (raise "
                f"{self.datastore.schema}.{OFFSET_FUNCTION}())"
            )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert (one statement for all the events), without its table lock
        and NOTIFY."""
        if len(stored_events) > ROWS_PER_TRANSACTION:
            raise ProgrammingError(f"one transaction writes at most {ROWS_PER_TRANSACTION} events")
        PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events, **kwargs)

    # --- reading --------------------------------------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
        settle: bool = True,
    ) -> Sequence[Notification]:
        """Up to `limit` notifications from `start` (up to `stop`), below the horizon.

        The page is the library's (walking the id index from `start`), cut at the
        horizon: what is cut comes after all that is kept. `settle=False` does not wait
        for the transactions in flight: for a follower that only needs to be no later
        than the horizon (it will be told the rest at its next look)."""
        where: list[sql.Composable] = [sql.SQL("true")]
        params: list[Any] = []
        if start is not None:
            where.append(
                sql.SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            where.append(sql.SQL("notification_id <= %s"))
            params.append(stop)
        if topics:
            where.append(sql.SQL("topic = ANY(%s)"))
            params.append(list(topics))
        params.append(limit)
        statement = sql.SQL(
            "SELECT horizon.*, e.* FROM {horizon} LEFT JOIN"
            " (SELECT {columns} FROM {table} WHERE {where} ORDER BY notification_id LIMIT %s)"
            " AS e ON {below}"
        ).format(
            horizon=self.horizon,
            columns=_COLUMNS,
            table=self.table,
            where=sql.SQL(" AND ").join(where),
            below=_BELOW_HORIZON,
        )

        def complete(rows: list[DictRow], settled_xid: int) -> bool:
            return (
                not settle
                or len(rows) >= limit
                or (stop is not None and stop < notification_id(settled_xid, 0))
            )

        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in self._settled(statement, params, complete)
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def max_notification_id(self) -> int | None:
        """The highest notification id below the horizon."""
        statement = sql.SQL(
            "SELECT horizon.*, (SELECT max(notification_id) FROM {table} WHERE {below})"
            " AS notification_id FROM {horizon}"
        ).format(table=self.table, below=_BELOW_HORIZON, horizon=self.horizon)
        rows = self._settled(statement, [], lambda _rows, _settled: False)
        return rows[0]["notification_id"] if rows else None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def count_after(self, position: int) -> int:
        """How many events are recorded after `position` (those in flight included)."""
        statement = sql.SQL("SELECT count(*) FROM {} WHERE notification_id > %s").format(self.table)
        with self.datastore.get_connection() as connection:
            row = connection.execute(statement, (position,)).fetchone()
        assert row is not None
        return int(row["count"])

    def _settled(
        self,
        statement: sql.Composed,
        params: Sequence[Any],
        complete: Callable[[list[DictRow], int], bool],
    ) -> list[DictRow]:
        """The statement's rows with a notification id (it joins them to the horizon), once
        every transaction in flight at the call has ended, or `complete` says the rows
        need not wait, or `SETTLE_SECONDS` have passed."""
        deadline = time.monotonic() + self.SETTLE_SECONDS
        pause, awaited = 0.0005, None
        with self.datastore.get_connection() as connection:
            while True:
                rows = connection.execute(statement, params, prepare=True).fetchall()
                settled_xid = rows[0]["settled_xid"]
                awaited = rows[0]["next_xid"] if awaited is None else awaited
                found = [row for row in rows if row["notification_id"] is not None]
                if settled_xid >= awaited or complete(found, settled_xid):
                    return found
                if time.monotonic() >= deadline:
                    log.warning(
                        "%s: transactions older than %s still running after %.0f s; "
                        "reading only what settled before them",
                        self.events_table_name,
                        settled_xid,
                        self.SETTLE_SECONDS,
                    )
                    return found
                self._pause(pause)
                pause = min(pause * 2, 0.05)

    def _pause(self, seconds: float) -> None:
        """Between reads, while the transactions in flight at the call end."""
        time.sleep(seconds)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        raise NotSupportedError("no LISTEN/NOTIFY here: poll select_notifications")


def events_after(recorder: ApplicationRecorder, position: int = 0) -> int:
    """How many events an application's log holds after `position`.

    Counted where ids are sparse (here); the library's recorders give dense ids, with
    holes only where writes rolled back, so their difference is a close upper bound."""
    if isinstance(recorder, TransactionOrderRecorder):
        counted: int = recorder.count_after(position)
        return counted
    return max(0, int(recorder.max_notification_id() or 0) - position)
