"""Many events at once, as audits read them.

On PostgreSQL the histories of one kind of aggregate stream one aggregate after
another from a server-side cursor walking the primary key, so a reader holds one
history at a time. Other backends page through the recorder's notification log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from guideledger.eventstore.topics import topics_of

IdRange = tuple[UUID, UUID | None]
"""Aggregate ids from the first (included) up to the second (excluded; None: no end)."""


Kinds = tuple[type, ...]
"""Kinds of events: an aggregate class stands for all its events."""


class AggregateLog(Protocol):
    """An application's log read by kind of event, each event with its log position."""

    def in_log_order(self, kinds: Kinds) -> Iterator[Notification]:
        """The events of these kinds, in the order they were recorded."""

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[Notification]:
        """The events of these kinds (of aggregates with ids in the range, if given),
        one aggregate's history after another."""


def aggregate_log(application: Application) -> AggregateLog:  # type: ignore[type-arg]
    """The application's log read by kind of aggregate."""
    recorder = application.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return _PostgresAggregateLog(recorder)
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


class _PostgresAggregateLog:
    PAGE = 2_000

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.recorder = recorder
        self.table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)

    def in_log_order(self, kinds: Kinds) -> Iterator[Notification]:
        return self._select(kinds, sql.SQL("notification_id"))

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[Notification]:
        return self._select(kinds, sql.SQL("originator_id, originator_version"), ids)

    def _select(
        self,
        kinds: Kinds,
        order: sql.Composable,
        ids: IdRange | None = None,
    ) -> Iterator[Notification]:
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
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {} WHERE {} ORDER BY {}"
        ).format(self.table, sql.SQL(" AND ").join(where), order)
        with (
            self.recorder.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor(name="aggregate_log") as cursor,  # server-side: streams
        ):
            cursor.itersize = self.PAGE
            cursor.execute(query, params)
            for row in cursor:
                yield _notification(row)


def _notification(row: dict[str, Any]) -> Notification:
    return Notification(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
        id=row["notification_id"],
    )


class _NotificationLog:
    """Any recorder's log, paged through; histories are grouped in memory."""

    PAGE = 2_000

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

    def in_log_order(self, kinds: Kinds) -> Iterator[Notification]:
        topics = _Topics.of(kinds)
        position = 0
        while page := self.recorder.select_notifications(
            start=position, limit=self.PAGE, inclusive_of_start=False
        ):
            yield from (n for n in page if topics.match(n.topic))
            position = page[-1].id

    def by_aggregate(self, kinds: Kinds, ids: IdRange | None = None) -> Iterator[Notification]:
        histories: dict[UUID, list[Notification]] = defaultdict(list)
        for notification in self.in_log_order(kinds):
            histories[UUID(str(notification.originator_id))].append(notification)
        within = (i for i in sorted(histories) if ids is None or _within(i, ids))
        return chain.from_iterable(histories[i] for i in within)


def _within(aggregate_id: UUID, ids: IdRange) -> bool:
    first, end = ids
    return first <= aggregate_id and (end is None or aggregate_id < end)
