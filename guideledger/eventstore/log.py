"""Many events at once, as audits read them.

On PostgreSQL the histories of one kind of aggregate stream one aggregate after
another from a server-side cursor walking the primary key, so a reader holds one
history at a time. Other backends page through the recorder's notification log.

Events come as rows (`LoggedEvent`), not decoded: a reader decodes only what it
needs of each, and no `Notification` is built per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import chain
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Connection, sql
from psycopg.rows import RowMaker

from guideledger.eventstore.topics import topics_of

IdRange = tuple[UUID, UUID | None]
"""Aggregate ids from the first (included) up to the second (excluded; None: no end)."""


Kinds = tuple[type, ...]
"""Kinds of events: an aggregate class stands for all its events."""


class LoggedEvent(NamedTuple):
    """A stored event and its position in the log (`id`, as a notification's)."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    id: int


class AggregateLog(Protocol):
    """An application's log read by kind of event, each event with its log position."""

    def in_log_order(self, kinds: Kinds) -> Iterator[LoggedEvent]:
        """The events of these kinds, in the order they were recorded."""

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[LoggedEvent]:
        """The events of these kinds (of aggregates with ids in the range, if given),
        one aggregate's history after another."""


def aggregate_log(application: Application) -> AggregateLog:  # type: ignore[type-arg]
    """The application's log read by kind of aggregate."""
    recorder = application.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        return PostgresAggregateLog(recorder.datastore.get_connection, table)
    return _NotificationLog(recorder)


@dataclass(frozen=True)
class _Topics:
    """Which topics events of these kinds have: an aggregate's events are classes nested
    in it (their topics start with the aggregate's and a dot); an event class has
    exactly its own topic."""

    prefixes: tuple[str, ...]
    exact: frozenset[str]

    @classmethod
    def of(cls, kinds: Kinds) -> _Topics:
        aggregates = [kind for kind in kinds if issubclass(kind, Aggregate)]
        events = [kind for kind in kinds if not issubclass(kind, Aggregate)]
        return cls(
            tuple(f"{topic}." for kind in aggregates for topic in topics_of(kind)),
            frozenset(topic for kind in events for topic in topics_of(kind)),
        )

    def match(self, topic: str) -> bool:
        return topic in self.exact or topic.startswith(self.prefixes)


class PostgresAggregateLog:
    """An events table read through the connections `connect` lends (the store's own, or a
    streaming replica's)."""

    PAGE = 5_000  # rows a fetch brings: a few megabytes

    def __init__(
        self, connect: Callable[[], AbstractContextManager[Connection[Any]]], table: sql.Identifier
    ) -> None:
        self.connect = connect
        self.table = table

    def in_log_order(self, kinds: Kinds) -> Iterator[LoggedEvent]:
        return self._select(kinds, sql.SQL("notification_id"))

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[LoggedEvent]:
        return self._select(kinds, sql.SQL("originator_id, originator_version"), ids)

    def _select(
        self,
        kinds: Kinds,
        order: sql.Composable,
        ids: IdRange | None = None,
    ) -> Iterator[LoggedEvent]:
        topics = _Topics.of(kinds)
        where = [sql.SQL("(topic ^@ ANY(%s::text[]) OR topic = ANY(%s::text[]))")]
        params: list[Any] = [list(topics.prefixes), sorted(topics.exact)]
        first, end = ids or (None, None)
        if first is not None:
            where.append(sql.SQL("originator_id >= %s"))
            params.append(first)
        if end is not None:
            where.append(sql.SQL("originator_id < %s"))
            params.append(end)
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id"
            " FROM {} WHERE {} ORDER BY {}"
        ).format(self.table, sql.SQL(" AND ").join(where), order)
        with (
            self.connect() as connection,
            connection.transaction(),
            # Server-side, so the rows stream; binary, so a state arrives as it is stored.
            connection.cursor(
                name="aggregate_log", row_factory=_logged_events, binary=True
            ) as cursor,
        ):
            cursor.execute(query, params)
            while page := cursor.fetchmany(self.PAGE):
                yield from page


def _logged_events(_cursor: object) -> RowMaker[LoggedEvent]:
    return LoggedEvent._make


class _NotificationLog:
    """Any recorder's log, paged through; histories are grouped in memory."""

    PAGE = 2_000

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

    def in_log_order(self, kinds: Kinds) -> Iterator[LoggedEvent]:
        topics = _Topics.of(kinds)
        position = 0
        while page := self.recorder.select_notifications(
            start=position, limit=self.PAGE, inclusive_of_start=False
        ):
            for n in page:
                if topics.match(n.topic):
                    originator_id = UUID(str(n.originator_id))  # some recorders give text
                    yield LoggedEvent(originator_id, n.originator_version, n.topic, n.state, n.id)
            position = page[-1].id

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[LoggedEvent]:
        histories: dict[UUID, list[LoggedEvent]] = defaultdict(list)
        for notification in self.in_log_order(kinds):
            histories[notification.originator_id].append(notification)
        within = (i for i in sorted(histories) if ids is None or _within(i, ids))
        return chain.from_iterable(histories[i] for i in within)


def _within(aggregate_id: UUID, ids: IdRange) -> bool:
    first, end = ids
    return first <= aggregate_id and (end is None or aggregate_id < end)
