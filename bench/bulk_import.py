"""Writes a benchmark month's events in bulk.

The library writes a command's events with one INSERT over an array; for hundreds of
thousands of events PostgreSQL's COPY is several times faster. On PostgreSQL each
transaction asks for its own transaction id first and gives its rows the notification
ids the recorder's own insert would (`notification_id`), so readers order them the
same way and never pass them by.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from guideledger.eventstore.recorder import (
    ROWS_PER_TRANSACTION,
    TransactionOrderRecorder,
    notification_id,
)

COLUMNS = ("originator_id", "originator_version", "topic", "state", "notification_id")


def import_events(application: Application, events: Sequence[DomainEventProtocol]) -> None:  # type: ignore[type-arg]
    """Records `events`, encoded by the application's own mapper, in one transaction (on
    PostgreSQL one per `ROWS_PER_TRANSACTION` events)."""
    stored = [application.mapper.to_stored_event(event) for event in events]
    if not stored:
        return
    recorder = application.recorder
    if not isinstance(recorder, TransactionOrderRecorder):
        recorder.insert_events(stored)
        return
    for first in range(0, len(stored), ROWS_PER_TRANSACTION):
        _copy(recorder, stored[first : first + ROWS_PER_TRANSACTION])


def _copy(recorder: TransactionOrderRecorder, stored: Sequence[StoredEvent]) -> None:
    columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    with recorder.datastore.get_connection() as connection, connection.transaction():
        row = connection.execute(
            sql.SQL("SELECT pg_current_xact_id()::text::bigint + {} AS xid").format(
                recorder.xid_offset
            )
        ).fetchone()
        assert row is not None
        with connection.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(recorder.table, columns)
        ) as copy:
            for number, event in enumerate(stored):
                copy.write_row(
                    (
                        event.originator_id,
                        event.originator_version,
                        event.topic,
                        event.state,
                        notification_id(row["xid"], number),
                    )
                )
