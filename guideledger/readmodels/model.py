"""Read models: tables, the row changes projections emit, and the query port.

A projection is a pure function from one event to the row changes it causes
(`Upsert`, `Increment`, `Delete`). The runner has a `ReadModelStore` apply a batch
of changes and the position of the last event in one transaction, so a crash
neither loses nor double-counts an event; the same projection code serves live
catch-up, a full rebuild and an in-memory replay.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, TypeVar
from uuid import UUID

from guideledger.eventstore.topics import topics_of
from guideledger.eventstore.transcoding import uuid_of

ColumnType = Literal["text", "uuid", "int", "real", "bool", "timestamp"]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: Mapping[str, ColumnType]
    indexes: tuple[tuple[str, ...], ...] = ()
    # Each column with the function that turns its stored value back into a Python value,
    # or None where the stored value is already it: routing decodes about a hundred rows
    # per order.
    _decoders: tuple[tuple[str, Callable[[Any], Any] | None], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        assert set(self.key) <= set(self.columns), "key columns must be columns"
        decoders = tuple((c, _DECODERS.get(t)) for c, t in self.columns.items())
        object.__setattr__(self, "_decoders", decoders)

    def decode_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A stored row as Python values."""
        decoded = {}
        for column, decode in self._decoders:
            value = row[column]
            decoded[column] = value if decode is None or value is None else decode(value)
        return decoded


@dataclass(frozen=True)
class Upsert:
    """Sets `values` on the row, creating it if missing."""

    table: Table
    key: Key
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Increment:
    """Adds `deltas` to the row's counters, creating the row at zero if missing.

    `fixed` columns describe the row (a store's branch, say) and are written
    when the row is created.
    """

    table: Table
    key: Key
    deltas: Mapping[str, int]
    fixed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delete:
    table: Table
    key: Key


RowChange = Upsert | Increment | Delete
Where = Mapping[str, Any]  # column -> value, or a list/tuple/set of values (IN)


_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def event_name(domain_event: object) -> str:
    """What histories and timelines call an event: its class's name, as in its topic."""
    return type(domain_event).__name__


def event_data(domain_event: Any) -> dict[str, Any]:
    """An event's own facts: its fields without the store's envelope, when and who."""
    return {
        f.name: getattr(domain_event, f.name)
        for f in fields(domain_event)
        if f.name not in _ENVELOPE | {"occurred_at", "actor"}
    }


F = TypeVar("F", bound=Callable[..., Any])


def on(*event_classes: type) -> Callable[[F], F]:
    """Marks the method a follower runs for each of these event classes."""

    def mark(method: F) -> F:
        method.__dict__.setdefault("_follows", ())
        method.__dict__["_follows"] += event_classes
        return method

    return mark


class Follower(ABC):
    """Follows one application's log: each event whose class has a method marked `@on`
    is handed to that method; the follower's position moves past every event."""

    name: ClassVar[str]
    application: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]] = ()
    handlers: ClassVar[Mapping[type, Callable[..., Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type, Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for member in vars(klass).values():
                for event_class in getattr(member, "_follows", ()):
                    handlers[event_class] = member
        cls.handlers = handlers

    @classmethod
    def topics(cls) -> list[str]:
        """The topics of the events it follows, former ones included."""
        return [topic for event_class in cls.handlers for topic in topics_of(event_class)]

    def handle(self, event: object) -> Any:
        """What the event's handler returns (None where none is marked for its class)."""
        handler = self.handlers.get(type(event))
        return None if handler is None else handler(self, event)


class Projection(Follower):
    """Folds events into tables: each handler returns the row changes its event causes,
    with no I/O and no reading of rows. The same code serves live catch-up, a full
    rebuild and the finance audit's replay."""

    def changes(self, event: object) -> Iterable[RowChange]:
        changes: Iterable[RowChange] | None = self.handle(event)
        return changes or ()


class ProcessManager(Follower):
    """Turns one context's facts into another context's commands.

    It runs at least once per event (a crash between a command and the position re-runs
    it), so every command it issues must be idempotent. It owns no tables."""

    def react(self, event: object) -> None:
        self.handle(event)

    def react_at(self, notification_id: int, event: object) -> None:
        """`react`, told the event's position in its log (for a follower that publishes it)."""
        self.react(event)


class ReadModels(Protocol):
    """What the applications ask of the read models."""

    def select(
        self,
        table: Table,
        where: Where,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]: ...

    def catch_up(self, projection: type[Projection]) -> None:
        """Applies every event recorded so far, so this process reads its own writes."""
        ...

    def rows_at_position(
        self, projection: type[Projection], table: Table, where: Where
    ) -> tuple[int, list[dict[str, Any]]]:
        """The rows of a projection's table matching `where` and the position they stand
        at, read together."""
        ...


def encode_value(column_type: ColumnType, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "uuid":
        return str(value)
    if column_type == "bool":
        return int(bool(value))
    if column_type == "timestamp":
        assert isinstance(value, datetime)
        return value.isoformat()
    return value


def _decode_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else uuid_of(value)


_DECODERS: dict[ColumnType, Callable[[Any], Any]] = {
    "uuid": _decode_uuid,
    "bool": bool,
    "timestamp": datetime.fromisoformat,
}


def coalesce(changes: Iterable[RowChange]) -> list[RowChange]:
    """The same effect in fewer row writes: successive changes to one row are folded into
    one where that is exact (increments add up; an upsert absorbs later upserts and the
    increments of columns it sets); a change that cannot be folded into the row's pending
    one is kept after it, in order."""
    net: list[RowChange] = []
    last: dict[tuple[str, Key], int] = {}  # row -> index of its latest change in `net`
    for change in changes:
        row = (change.table.name, change.key)
        index = last.get(row)
        folded = _fold(net[index], change) if index is not None else None
        if folded is not None and index is not None:
            net[index] = folded
        else:
            last[row] = len(net)
            net.append(change)
    return net


def _fold(before: RowChange, after: RowChange) -> RowChange | None:
    if isinstance(before, Increment) and isinstance(after, Increment):
        deltas = dict(before.deltas)
        for column, delta in after.deltas.items():
            deltas[column] = deltas.get(column, 0) + delta
        return Increment(before.table, before.key, deltas, before.fixed)
    if isinstance(before, Upsert) and isinstance(after, Upsert):
        return Upsert(before.table, before.key, {**before.values, **after.values})
    if (
        isinstance(before, Upsert)
        and isinstance(after, Increment)
        and set(after.deltas) <= set(before.values)
    ):
        values = dict(before.values)
        for column, delta in after.deltas.items():
            values[column] = (values[column] or 0) + delta
        return Upsert(before.table, before.key, values)
    return None
