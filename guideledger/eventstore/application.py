"""What every GuideLedger application shares.

- a clock is injected, so no command reads the wall clock itself;
- every command runs as read → decide → one `save()` of all touched aggregates,
  re-run a bounded number of times when another writer got there first; commands
  of one process that finish together share a transaction (`GroupCommit`), each
  still all or nothing;
- commands of one process naming the same keys (a hot SKU's orders) take turns, and
  each turn decides every command waiting for it, one after another on the same
  aggregates, and saves them in one transaction (`Turns`); keys another process
  contends for are held against it for the turn (`ContendedKeys`);
- an idempotency key makes a retried command return its first outcome and
  write nothing: the key's record is saved in the same transaction as the
  command's events, so a crash can never keep one without the other.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
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
from guideledger.eventstore.concurrency import (
    ContendedKeys,
    GroupCommit,
    KeyLocks,
    NoKeyLocks,
    Turns,
)
from guideledger.eventstore.repository import LedgerRepository, decisions, find
from guideledger.eventstore.topics import former_topics
from guideledger.eventstore.transcoding import DataclassAsDict, UUIDAsCachedHex
from guideledger.kernel.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
)
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


@dataclass(eq=False)
class _Pending:
    """A command waiting for its outcome: its result, or the error refusing it."""

    command: Command
    decide: Callable[[], Decision]
    outcome: CommandResult | Exception | None = None

    def result(self) -> CommandResult:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        if self.outcome is None:
            raise RuntimeError("a command's turn ended without an outcome")  # never expected
        return self.outcome


@dataclass(frozen=True)
class Runtime:
    """What the composition root gives every application: the clock it reads, the
    library's settings for its event store, and who hears of a race it lost."""

    clock: Clock
    env: dict[str, str] | None = None
    on_lost_race: Callable[[str], None] = _nobody_hears
    key_locks: KeyLocks = field(default_factory=NoKeyLocks)


class LedgerApplication(Application[UUID]):
    """Base of every bounded context's application."""

    #: Value objects that appear inside events.
    value_types: tuple[type[Any], ...] = ()

    def __init__(self, runtime: Runtime) -> None:
        self.clock = runtime.clock
        self.on_lost_race = runtime.on_lost_race
        super().__init__(runtime.env)
        self.group_commit = GroupCommit(self.save)
        self.turns: Turns[_Pending] = Turns()
        self.key_locks = runtime.key_locks
        self.contended_keys = ContendedKeys(runtime.key_locks)

    def close(self) -> None:
        self.key_locks.close()
        super().close()

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

    def execute(
        self,
        command: Command,
        decide: Callable[[], Decision],
        turn_keys: Iterable[Hashable] = (),
    ) -> CommandResult:
        """Runs `decide` and saves what it changed, atomically and at most once per key.

        `decide` must read everything it needs afresh: after a concurrent write
        it is run again, so a stale decision is never saved. Commands of this process
        naming a key in common take turns: a turn decides each waiting command in turn
        on the aggregates the ones before it changed, and saves them together.
        """
        return self.prepare_and_execute(command, lambda: decide, turn_keys)

    def prepare_and_execute(
        self,
        command: Command,
        prepare: Callable[[], Callable[[], Decision]],
        turn_keys: Iterable[Hashable] = (),
    ) -> CommandResult:
        """`execute`, with the reads that need no turn done first, in the caller's thread.

        A turn decides its commands one after another, so what they read there they read
        in series. `prepare` runs once, before the turn, in parallel with other commands:
        it checks references and reads what the decision only looks at (none of which is
        saved, so none is checked for a concurrent change however it is read), and returns
        the decision, which reads what it changes and is run again after a lost race.
        """
        with decisions.deciding():
            if command.idempotency is not None:
                first = self._first_outcome(command.idempotency)
                if first is not None:
                    return first
            pending = _Pending(command, prepare())
        keys = frozenset(turn_keys)
        if keys:
            self.turns.run(keys, pending, lambda batch: self._decide_and_save(batch, keys))
        else:
            self._decide_and_save([pending])
        return pending.result()

    def _decide_and_save(
        self, batch: list[_Pending], keys: frozenset[Hashable] = frozenset()
    ) -> None:
        """Decides the commands one after another and saves the accepted ones in one
        transaction; if it loses a race, every command is decided again from fresh reads
        (a refusal too: it may have rested on a decision that was not saved). The race is
        most likely lost on an aggregate the commands share, so the first time they are
        decided again at once; from the second time, those whose key another writer
        recorded meanwhile are answered with its first outcome (asking costs a round trip
        per command, which would widen the window of the next race)."""
        undecided = batch
        try:
            for attempt in range(MAX_COMMAND_ATTEMPTS):
                if attempt:
                    # Writers that lost a race spread out instead of colliding again at once.
                    time.sleep(random.uniform(0, RETRY_BACKOFF_SECONDS * 2**attempt))  # noqa: S311
                if attempt > 1:
                    undecided = [p for p in undecided if not self._answered_meanwhile(p)]
                if self._saved_in_turn(undecided, keys):
                    return
            error: Exception = Conflict(
                f"the command lost {MAX_COMMAND_ATTEMPTS} races with concurrent writers; retry it"
            )
        except Exception as failure:  # the database failed: every command hears it
            error = failure
        for pending in undecided:
            pending.outcome = error

    def _saved_in_turn(self, batch: list[_Pending], keys: frozenset[Hashable]) -> bool:
        """Decides the commands and saves the accepted ones in one transaction, holding
        the keys against other processes if they contend for them; False if it lost a
        race."""
        with self.contended_keys.holding(keys):
            with decisions.deciding():
                events, aggregates = self._decide_in_turn(batch)
            try:
                if events:
                    self.group_commit.save(events, aggregates)
            except IntegrityError:
                self.contended_keys.lost_race(keys)
                self.repository.forget(aggregate.id for aggregate in aggregates)
                for _decided_again in batch:
                    self.on_lost_race(self.name)
                return False
        self.repository.saved(aggregates)
        return True

    def _decide_in_turn(self, batch: list[_Pending]) -> tuple[list[Any], list[Aggregate]]:
        """Each command's decision on what the ones before it left: the events of those
        accepted, and the aggregates as they left them."""
        shared: dict[UUID, Aggregate | None] = {}
        events: list[Any] = []
        with self.repository.sharing(shared):
            for pending in batch:
                try:
                    touched = self._decision(pending, shared)
                except Exception as refusal:  # the command's own outcome, as if run alone
                    pending.outcome = refusal
                    continue
                for aggregate in touched:
                    events += aggregate.collect_events()
                    shared[aggregate.id] = aggregate
        saved = {event.originator_id for event in events}
        return events, [a for a in shared.values() if a is not None and a.id in saved]

    def _decision(self, pending: _Pending, shared: dict[UUID, Aggregate | None]) -> list[Aggregate]:
        """What one command changes, with its idempotency record; a key already used in
        this turn answers with its first outcome (the store was asked before the turn)."""
        key = pending.command.idempotency
        if key is not None:
            record = shared.get(IdempotencyRecord.create_id(key.scoped))
            if isinstance(record, IdempotencyRecord):
                pending.outcome = self._replayed(record, key)
                return []
        aggregates, result = pending.decide()
        touched = list(aggregates)
        if key is not None:
            touched.append(
                IdempotencyRecord(
                    key=key.scoped,
                    fingerprint=key.fingerprint,
                    result_id=result.id,
                    result_version=result.version,
                )
            )
        pending.outcome = result
        return touched

    def _answered_meanwhile(self, pending: _Pending) -> bool:
        """Whether another writer recorded the command's key since its turn began."""
        key = pending.command.idempotency
        if key is None:
            return False
        try:
            first = self._first_outcome(key)
        except DomainError as refusal:
            pending.outcome = refusal
            return True
        pending.outcome = first
        return first is not None

    def first_outcome(self, command: Command) -> CommandResult | None:
        """The first outcome of a command sent again with its idempotency key, if it ran:
        what a command of several steps answers before taking any."""
        return None if command.idempotency is None else self._first_outcome(command.idempotency)

    def _first_outcome(self, key: IdempotencyKey) -> CommandResult | None:
        """The first outcome of the key's command, if it has run.

        A record stored before keys had scopes names neither caller nor operation: it
        answers a retry of the very same request (its fingerprint holds the method, the
        path and the body) and refuses nothing, since another caller may have used the key.
        """
        record = self._key_record(key.scoped)
        if record is not None:
            return self._replayed(record, key)
        if key.scope:
            unscoped = self._key_record(key.key)
            if unscoped is not None and unscoped.fingerprint == key.fingerprint:
                return unscoped.result
        return None

    def _key_record(self, scoped_key: str) -> IdempotencyRecord | None:
        record_id = IdempotencyRecord.create_id(scoped_key)
        return find(self.repository, IdempotencyRecord, record_id, for_change=False)

    @staticmethod
    def _replayed(record: IdempotencyRecord, key: IdempotencyKey) -> CommandResult:
        """The first outcome, unless the key was first used for a different request."""
        if record.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was first used for a different request",
                idempotency_key=key.key,
            )
        return record.result
