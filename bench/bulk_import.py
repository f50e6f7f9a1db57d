"""Writes a benchmark month's events in bulk.

The library writes a command's events with one INSERT per event in a pipeline; for
hundreds of thousands of events PostgreSQL's COPY is several times faster, and a very
large pipeline can stall (psycopg#685). COPY runs under the same
`LOCK TABLE … IN EXCLUSIVE MODE` the library takes for every write, so notification ids
are still given out in commit order and a reader tailing the log never passes a gap that
fills in later.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

COLUMNS = ("originator_id", "originator_version", "topic", "state")


def import_events(application: Application, events: Sequence[DomainEventProtocol]) -> None:  # type: ignore[type-arg]
    """Records `events` in one transaction, encoded by the application's own mapper."""
    stored = [application.mapper.to_stored_event(event) for event in events]
    if not stored:
        return
    recorder = application.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        recorder.insert_events(stored)
        return
    table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
    columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    with recorder.datastore.get_connection() as connection, connection.transaction():
        connection.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        # As the library's own writes do, wake whoever subscribes to the log.
        connection.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(recorder.channel_name)))
        with connection.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)
        ) as copy:
            for event in stored:
                copy.write_row(
                    (event.originator_id, event.originator_version, event.topic, event.state)
                )
