"""What every GuideLedger application shares.

- a clock is injected, so no command reads the wall clock itself;
- every command runs as read → decide → one `save()` of all touched aggregates,
  re-run a bounded number of times when another writer got there first; commands
  of one process that finish together share a transaction (`GroupCommit`), each
  still all or nothing;
- an idempotency key makes a retried command return its first outcome and
  write nothing: the key's record is saved in the same transaction as the
  command's events, so a crash can never keep one without the other.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    Mapper,
)

from guideledger.eventstore.codec import TypedMapper
from guideledger.eventstore.commands import (
    Command,
    CommandResult,
    Decision,
    IdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyRecord,
    UnknownReference,
    VersionConflict,
)
from guideledger.eventstore.concurrency import GroupCommit
from guideledger.eventstore.repository import LedgerRepository, decisions, find
from guideledger.eventstore.topics import former_topics
from guideledger.eventstore.transcoding import DataclassAsDict, UUIDAsCachedHex
from guideledger.kernel.errors import AlreadyExists, Conflict, InvalidValue, NotFound
from guideledger.kernel.values import require_utc

MAX_COMMAND_ATTEMPTS = 10
RETRY_BACKOFF_SECONDS = 0.002  # doubled per lost race, with full jitter

A = TypeVar("A", bound=Aggregate)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


def kind_name(cls: type) -> str:
    """How messages name a kind of aggregate: `node`, `guide`, `order`."""
    return cls.__name__.lower()


def _nobody_hears(_application: str) -> None:
    """Lost races go uncounted."""


@dataclass(frozen=True)
class Runtime:
    """What the composition root gives every application: the clock it reads, the
    library's settings for its event store, and who hears of a race it lost."""

    clock: Clock
    env: dict[str, str] | None = None
    on_lost_race: Callable[[str], None] = _nobody_hears


class LedgerApplication(Application[UUID]):
    """Base of every bounded context's application."""

    #: Value objects that appear inside events.
    value_types: tuple[type[Any], ...] = ()

    def __init__(self, runtime: Runtime) -> None:
        self.clock = runtime.clock
        self.on_lost_race = runtime.on_lost_race
        super().__init__(runtime.env)
        self.group_commit = GroupCommit(self.save)

    def construct_repository(self) -> LedgerRepository:
        return LedgerRepository(
            super().construct_repository(), (type(self).snapshotting_intervals or {}).keys()
        )

    @property
    def repository(self) -> LedgerRepository:
        repository = super().repository
        assert isinstance(repository, LedgerRepository)
        return repository

    def construct_mapper(self) -> Mapper[UUID]:
        """Events are stored by `TypedMapper`, unless the environment names a mapper
        (`MAPPER_TOPIC`, the library's setting)."""
        named = self.env.get(InfrastructureFactory.MAPPER_TOPIC)
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=None if named else TypedMapper
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """How the JSON transcoder stores values: it reads the events stored before the
        `TypedMapper`, and writes snapshots."""
        super().register_transcodings(transcoder)
        transcoder.register(UUIDAsCachedHex())
        for value_type in self.value_types:
            for former_name in former_topics(value_type):  # decodes what was stored before
                transcoder.register(DataclassAsDict(value_type, former_name))
            transcoder.register(DataclassAsDict(value_type))

    def load(
        self,
        cls: type[A],
        aggregate_id: UUID,
        expected_version: int | None = None,
        for_change: bool = True,
    ) -> A:
        """The current aggregate, refused if it is not of `cls` or has moved on
        (`for_change=False`: the cached object itself, which the caller must not change)."""
        try:
            aggregate: Aggregate = self.repository.get_kind(cls, aggregate_id, for_change)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind_name(cls)} {aggregate_id}", id=str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {kind_name(cls)} {aggregate_id}", id=str(aggregate_id))
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflict(
                "the aggregate has changed since the version you read",
                id=str(aggregate_id),
                current_version=aggregate.version,
                expected_version=expected_version,
            )
        return aggregate

    def as_of(self, moment: datetime | None) -> datetime:
        """An instant to act as of: now by default, never in the future (acting ahead of
        time would expire orders or mature commissions early)."""
        now = self.clock.now()
        if moment is None:
            return now
        if require_utc(moment) > now:
            raise InvalidValue("as_of cannot be in the future", as_of=moment.isoformat())
        return moment

    def exists(self, cls: type[Aggregate], aggregate_id: UUID) -> bool:
        """Whether an aggregate has that id (read as a `cls`: only kinds that take snapshots
        ask the snapshot store)."""
        try:
            self.repository.get_kind(cls, aggregate_id, for_change=False)
        except AggregateNotFoundError:
            return False
        return True

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        return find(self.repository, cls, aggregate_id)

    def reference(self, cls: type[A], aggregate_id: UUID, field: str, for_change: bool = True) -> A:
        """An aggregate named by a command's field; refused as input if missing."""
        try:
            return self.load(cls, aggregate_id, for_change=for_change)
        except NotFound:
            raise UnknownReference(
                f"{field} names no known {kind_name(cls)}", field=field, id=str(aggregate_id)
            ) from None

    def create(self, command: Command, new_aggregate: Callable[[], Aggregate]) -> CommandResult:
        """Creates an aggregate whose id is natural; a second creation is refused."""

        def decide() -> Decision:
            aggregate = new_aggregate()
            if self.exists(type(aggregate), aggregate.id):
                kind = kind_name(type(aggregate))
                raise AlreadyExists(f"that {kind} already exists", id=str(aggregate.id))
            return [aggregate], CommandResult(aggregate.id, aggregate.version)

        return self.execute(command, decide)

    def update(
        self,
        command: Command,
        cls: type[A],
        aggregate_id: UUID,
        expected_version: int | None,
        change: Callable[[A], None],
    ) -> CommandResult:
        """Loads one aggregate, applies `change` (which raises to refuse) and saves it."""

        def decide() -> Decision:
            aggregate = self.load(cls, aggregate_id, expected_version)
            change(aggregate)
            return [aggregate], CommandResult(aggregate.id, aggregate.version)

        return self.execute(command, decide)

    def execute(self, command: Command, decide: Callable[[], Decision]) -> CommandResult:
        """Runs `decide` and saves what it changed, atomically and at most once per key.

        `decide` must read everything it needs afresh: after a concurrent write
        it is run again, so a stale decision is never saved.
        """
        for attempt in range(MAX_COMMAND_ATTEMPTS):
            if attempt:
                # Writers that lost a race spread out instead of colliding again at once.
                time.sleep(random.uniform(0, RETRY_BACKOFF_SECONDS * 2**attempt))  # noqa: S311
            with decisions.deciding():
                if command.idempotency is not None:
                    first = self._first_outcome(command.idempotency)
                    if first is not None:
                        return first
                aggregates, result = decide()
            to_save = list(aggregates)
            if command.idempotency is not None:
                key = command.idempotency
                to_save.append(
                    IdempotencyRecord(
                        key=key.key,
                        fingerprint=key.fingerprint,
                        result_id=result.id,
                        result_version=result.version,
                    )
                )
            try:
                self.group_commit.save(to_save)
            except IntegrityError:
                self.on_lost_race(self.name)
                self.repository.forget(aggregate.id for aggregate in to_save)
                continue
            self.repository.saved(to_save)
            return result
        raise Conflict(
            f"the command lost {MAX_COMMAND_ATTEMPTS} races with concurrent writers; retry it"
        )

    def _first_outcome(self, key: IdempotencyKey) -> CommandResult | None:
        record_id = IdempotencyRecord.create_id(key.key)
        try:
            record = self.repository.get_kind(IdempotencyRecord, record_id, for_change=False)
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was first used for a different request",
                idempotency_key=key.key,
            )
        return record.result
