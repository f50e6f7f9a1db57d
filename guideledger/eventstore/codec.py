"""Events stored as MessagePack and decoded straight into their typed values.

The library's mapper stores an event's state through its JSON transcoder: every
value object, id and instant is wrapped in a named object on the way out and
rebuilt by a Python hook on the way in. `TypedMapper` knows each event class's field
types instead (its annotations), so msgspec writes the state as a compact
MessagePack map and reads it back in one pass into UUIDs, UTC datetimes, enums,
tuples and the value-object dataclasses (their `__post_init__` runs, as before).

It is the library's mapper in every other respect: topics are resolved by the
library (former topics included), `class_version` upcasting, compression and the
cipher are the library's. Kept from before, through the library's transcoder:
- events stored before, as JSON (a state starting with `{`), are read with it and
  then given their declared types (tuples, integer keys), so an old event decodes
  to the same value as a new one;
- snapshots, whose state is an aggregate's attributes with no declared types;
- the rare event holding an integer beyond 64 bits, which MessagePack cannot carry
  and JSON keeps exact.

A reader that needs a few fields of many events (an audit) asks for a view decoder
(`TypedMapper.view_decoder`): msgspec reads just the fields a narrower type declares
and skips the rest of the stored state, without building the event.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import UnionType
from typing import Any, ClassVar, Protocol, TypeVar, cast
from uuid import UUID

import msgspec
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

NOT_EVENT_STATE = frozenset({"originator_id", "originator_version"})
View = TypeVar("View")


class Stored(Protocol):
    """A stored event as a row: a `StoredEvent`, or a log's row."""

    @property
    def originator_id(self) -> UUID: ...

    @property
    def originator_version(self) -> int: ...

    @property
    def topic(self) -> str: ...

    @property
    def state(self) -> bytes: ...


def _encode_other(obj: Any) -> Any:
    if isinstance(obj, str):  # a text type of the domain's own, such as `Account`
        return str(obj)
    raise NotImplementedError(f"cannot store a {type(obj).__qualname__} in an event")


def _decode_other(cls: type, obj: Any) -> Any:
    if issubclass(cls, str) and isinstance(obj, str):
        return cls(obj)
    raise NotImplementedError(f"cannot decode a {cls.__qualname__}")


def _named(obj: Any) -> Any:
    """A field annotated `Any` holds a value object stored with the topic of its class
    (`{"_type_": topic, "_data_": fields}`), since no annotation says what it is."""
    if isinstance(obj, dict) and obj.keys() == {"_type_", "_data_"}:
        return msgspec.convert(obj["_data_"], resolve_topic(obj["_type_"]), dec_hook=_decode_other)
    return obj  # a plain value, or (from an old JSON event) the value object itself


def _decodable(hint: Any) -> Any:
    """The type msgspec decodes a field into: an abstract `Sequence` becomes a tuple
    (events are built with tuples, and they are immutable)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Sequence:
        item = _decodable(args[0]) if args else Any
        return tuple.__class_getitem__((item, ...))
    if origin in (UnionType, typing.Union):
        return typing.Union[tuple(_decodable(arg) for arg in args)]  # noqa: UP007
    return hint


#: Values the transcoder (or msgspec, before an upcast) has already decoded: kept as they are.
_DECODED = (UUID, datetime, date, time, timedelta, Decimal)
_ENCODER = msgspec.msgpack.Encoder(enc_hook=_encode_other, uuid_format="bytes")
_EXTRA_FIELDS = msgspec.msgpack.Decoder(dict[str, Any])


@dataclasses.dataclass(frozen=True)
class EventCodec:
    """How the state of one event class is written and read."""

    class_version: int
    fields: frozenset[str]
    named: tuple[str, ...]  # fields annotated `Any`
    schema: Any  # a TypedDict of the fields' types, none of them required
    decoder: msgspec.msgpack.Decoder[dict[str, Any]]

    @classmethod
    def of(cls, event_class: type) -> EventCodec:
        hints = {
            name: hint
            for name, hint in typing.get_type_hints(event_class).items()
            if name not in NOT_EVENT_STATE and typing.get_origin(hint) is not ClassVar
        }
        types = {name: _decodable(hint) for name, hint in hints.items()}
        typed_dict: Any = typing.TypedDict
        schema = typed_dict(
            f"{event_class.__qualname__}.State", {**types, "class_version": int}, total=False
        )
        return cls(
            class_version=getattr(event_class, "class_version", 1),
            fields=frozenset(types),
            named=tuple(name for name, hint in hints.items() if hint is Any),
            schema=schema,
            decoder=msgspec.msgpack.Decoder(schema, dec_hook=_decode_other),
        )

    def encode(self, state: dict[str, Any]) -> bytes:
        """The state as MessagePack; OverflowError for an integer beyond 64 bits."""
        if self.named:
            state = state.copy()
            for name in self.named:
                value = state.get(name)
                if dataclasses.is_dataclass(value):
                    state[name] = {"_type_": get_topic(type(value)), "_data_": value}
        return _ENCODER.encode(state)

    def decode(self, data: bytes) -> dict[str, Any]:
        state = self.decoder.decode(data)
        for name in self.named:
            if name in state:
                state[name] = _named(state[name])
        if state.get("class_version", 1) < self.class_version:
            # Fields of the stored version that this one no longer declares reach
            # the upcasters as stored.
            extra = _EXTRA_FIELDS.decode(data).items()
            state.update((name, value) for name, value in extra if name not in self.fields)
        return state

    def typed(self, state: dict[str, Any]) -> dict[str, Any]:
        """A state the transcoder decoded, or the upcasters changed, with the declared
        types (tuples for lists, integer keys for text ones)."""
        converted: dict[str, Any] = msgspec.convert(
            state,
            self.schema,
            builtin_types=_DECODED,
            str_keys=True,
            dec_hook=_decode_other,
        )
        for name in self.named:
            if name in converted:
                converted[name] = _named(converted[name])
        return converted


def view_decoder(
    mapper: Mapper[UUID], event_class: type, view: type[View]
) -> Callable[[Stored], View]:
    """The mapper's reader of `event_class`'s stored events as `view` (see
    `TypedMapper.view_decoder`); another mapper decodes each event whole."""
    if isinstance(mapper, TypedMapper):
        return mapper.view_decoder(event_class, view)
    return lambda stored: _as_view(mapper, stored, view)


def _as_view(mapper: Mapper[UUID], stored: Stored, view: type[View]) -> View:
    event = mapper.to_domain_event(
        StoredEvent(stored.originator_id, stored.originator_version, stored.topic, stored.state)
    )
    return msgspec.convert(event, view, from_attributes=True, dec_hook=_decode_other)


class TypedMapper(Mapper[UUID]):
    """The library's mapper, storing events with their `EventCodec` (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._codecs: dict[type, EventCodec | None] = {}

    def codec(self, event_class: type) -> EventCodec | None:
        """The codec of an event class; None for snapshots, stored as JSON."""
        try:
            return self._codecs[event_class]
        except KeyError:
            codec = None
            if not issubclass(event_class, CanSnapshotAggregate):
                codec = EventCodec.of(event_class)
            self._codecs[event_class] = codec
            return codec

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        codec = self.codec(type(domain_event))
        if codec is None:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if codec.class_version > 1:
            state["class_version"] = codec.class_version
        try:
            stored_state = codec.encode(state)
        except OverflowError:  # an integer beyond 64 bits: JSON keeps it exact
            stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def view_decoder(self, event_class: type, view: type[View]) -> Callable[[Stored], View]:
        """Reads stored events of `event_class` as `view`: a msgspec Struct (or dataclass)
        declaring some of the event's fields with the event's own types, or narrower
        views of its value objects. MessagePack states are read straight into the view;
        the others (stored as JSON, or of an event class that has been upcast) are
        decoded whole, then converted."""
        decoder = msgspec.msgpack.Decoder(view, dec_hook=_decode_other)
        direct = (
            self.codec(event_class) is not None and getattr(event_class, "class_version", 1) == 1
        )

        def read(stored: Stored) -> View:
            state = stored.state
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            if not direct or state[:1] == b"{":
                return _as_view(self, stored, view)
            try:
                return decoder.decode(state)
            except msgspec.MsgspecError as error:
                raise MapperDeserialisationError(
                    f"Failed to read stored event {stored.originator_id}:"
                    f"{stored.originator_version} as {view.__qualname__}: {error}"
                ) from error

        return read

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        codec = self.codec(cls)
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            as_json = stored_state[:1] == b"{"
            if codec is None or as_json:
                state: dict[str, Any] = self.transcoder.decode(stored_state)
            else:
                state = codec.decode(stored_state)
        except Exception as error:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic "
                f"'{stored_event.topic}', originator_id '{stored_event.originator_id}' "
                f"and originator_version {stored_event.originator_version}: {error}"
            ) from error
        id_convertor = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        state["originator_id"] = id_convertor(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        upcast = from_version < class_version
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        if codec is not None and (as_json or upcast):
            try:
                state.update(codec.typed(state))
            except msgspec.ValidationError:
                if not as_json:
                    raise
                # An old event its class's types no longer describe reads as it did.
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return cast(DomainEventProtocol[UUID], domain_event)
