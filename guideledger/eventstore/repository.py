"""The library's repository, asking the snapshot store only for kinds that take snapshots,
serving a command's reads from the cache when the log says nothing has changed, and
letting the decisions of one turn share what they read and change."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Notification

from guideledger.eventstore.recorder import TransactionOrderRecorder

A = TypeVar("A", bound=Aggregate)
WATCH_BATCH = 1000
ABSENT = 0  # the version `_checked` records for an aggregate found missing


class _Decisions:
    """Numbers each decision a command makes (a thread's reads between `deciding` calls),
    so a repository knows whether it looked at its log since that decision began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.issued = 0
        self._current = threading.local()

    def begin(self) -> int:
        with self._lock:
            self.issued += 1
            return self.issued

    @property
    def current(self) -> int | None:
        number: int | None = getattr(self._current, "number", None)
        return number

    @contextmanager
    def deciding(self) -> Iterator[None]:
        outer = self.current
        self._current.number = self.begin()
        try:
            yield
        finally:
            self._current.number = outer


decisions = _Decisions()
Follower = Callable[[Sequence[Notification]], None]


class LogWatch:
    """Reads what an application's log recorded since the last look, at most once per
    decision, for everything this process keeps current from that log (the cache's
    checks, tables folded in memory): one round trip per log and decision, whoever asks.

    Followers are called under `lock`, in log order, with every notification once."""

    def __init__(self, log: ApplicationRecorder) -> None:
        self.log = log
        self.lock = threading.RLock()
        self.position: int | None = None
        self._fresh_for = 0  # decisions begun before the last look are covered by it
        self._followers: list[Follower] = []

    def follow(self, follower: Follower) -> int:
        """Adds a follower; returns the position after which it will be told."""
        with self.lock:
            self._followers.append(follower)
            return self._started()

    def look(self, decision: int | None) -> None:
        """Reads the log since the last look, unless one began after `decision` did
        (None: outside any decision, always look)."""
        if decision is not None and self._fresh_for >= decision:
            return
        with self.lock:
            if decision is not None and self._fresh_for >= decision:
                return  # another thread looked after this decision began
            issued = decisions.issued
            position = self._started()
            while batch := self._read(position):
                for follower in self._followers:
                    follower(batch)
                position = self.position = batch[-1].id
                if len(batch) < WATCH_BATCH:
                    break
            self._fresh_for = issued

    def _read(self, position: int) -> Sequence[Notification]:
        """What the log recorded after `position`, as far as it has settled now: a look
        does not wait for transactions in flight (what they write is told next time;
        a decision on a read that missed it loses its race on the version)."""
        if isinstance(self.log, TransactionOrderRecorder):
            settled: Sequence[Notification] = self.log.select_notifications(
                start=position, limit=WATCH_BATCH, inclusive_of_start=False, settle=False
            )
            return settled
        return self.log.select_notifications(
            start=position, limit=WATCH_BATCH, inclusive_of_start=False
        )

    def _started(self) -> int:
        if self.position is None:
            self.position = self.log.max_notification_id() or 0
        return self.position


class LedgerRepository(Repository[UUID]):
    """The library's repository, with two economies.

    A read naming its kind (`get_kind`) asks the snapshot store only for the kinds that
    take snapshots: the library asks it first on every read its cache misses, and a
    place-order reads things that do not exist yet (a member's binding, a policy book
    never published), each of which would cost one more round trip.

    Inside a command's decision, the cache is checked against the log instead of
    fast-forwarding every aggregate read: once per decision the repository reads what
    the log recorded since it last looked (one round trip) and forgets what it knew of
    any aggregate with a newer event. An aggregate read since, or saved by this process,
    is served from the cache; one found missing stays known to be missing until its
    first event appears. A write decided on a read the log had not shown yet still
    loses its race on the aggregate's version: the command forgets what it read and
    decides again from the store. Reads outside commands fast-forward as the library does.
    """

    def __init__(self, library: Repository[UUID], snapshotted: Iterable[type[Any]]) -> None:
        super().__init__(
            library.event_store,
            snapshot_store=library.snapshot_store,
            fastforward=library.fastforward,
            fastforward_skipping=library.fastforward_skipping,
            deepcopy_from_cache=library.deepcopy_from_cache,
        )
        self.cache = library.cache  # as the library sized it from the environment
        self.snapshotted = frozenset(snapshotted)
        self._events_only = Repository(library.event_store)
        recorder = library.event_store.recorder
        assert isinstance(recorder, ApplicationRecorder)
        self.watch = LogWatch(recorder)
        self._checked_size = getattr(self.cache, "maxsize", None) or 10_000
        self._checked: OrderedDict[UUID, int] = OrderedDict()  # id -> version, least recent first
        self._watch = self.watch.lock
        self._watching = False
        # `_checked` changes under its own lock, never held across a round trip; reads of
        # it take none. `_moved_on` counts its passes, so a read knows if one ran meanwhile.
        self._checks = threading.Lock()
        self._passes = 0
        self._turn = threading.local()

    @contextmanager
    def sharing(self, shared: dict[UUID, Aggregate | None]) -> Iterator[None]:
        """Reads of this thread meanwhile go through `shared`: an aggregate read once is
        read from there again (None: it does not exist), and a decision puts there what it
        changed, so the next decision sees it. Each read for a change is a copy: a refused
        decision leaves nothing behind."""
        outer = getattr(self._turn, "shared", None)
        self._turn.shared = shared
        try:
            yield
        finally:
            self._turn.shared = outer

    def get_kind(self, cls: type[Aggregate], aggregate_id: UUID, for_change: bool = True) -> Any:
        """The aggregate with that id (of whatever kind it is: the caller checks).

        `for_change=False` returns the cached object itself: the caller must not change it.
        """
        shared: dict[UUID, Aggregate | None] | None = getattr(self._turn, "shared", None)
        if shared is None:
            return self._checked_read(cls, aggregate_id, for_change)
        if aggregate_id not in shared:
            try:
                shared[aggregate_id] = self._checked_read(cls, aggregate_id, for_change=False)
            except AggregateNotFoundError:
                shared[aggregate_id] = None
        aggregate = shared[aggregate_id]
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return deepcopy(aggregate) if for_change else aggregate

    def _checked_read(self, cls: type[Aggregate], aggregate_id: UUID, for_change: bool) -> Any:
        decision = decisions.current
        if decision is None or self.cache is None:
            return self._read(cls, aggregate_id, for_change)
        self._look_at_log(decision)
        known = self._known(aggregate_id)
        if known is not None:
            return deepcopy(known) if for_change else known
        passes = self._passes
        try:
            aggregate = self._read(cls, aggregate_id, for_change)
        except AggregateNotFoundError:
            self._check(aggregate_id, ABSENT, passes)
            raise
        self._check(aggregate_id, aggregate.version, passes)
        return aggregate

    def saved(self, aggregates: Iterable[Aggregate]) -> None:
        """This process stored these aggregates as they are now: later commands may read
        those it had cached from the cache. New ones are not cached until read: orders and
        idempotency records would push the stocks every order reads out of the cache."""
        if self.cache is None:
            return
        cached = self.cache.cache
        with self._checks:
            for aggregate in aggregates:
                if aggregate.id in cached:
                    self.cache.put(aggregate.id, aggregate)
                    self._remember(aggregate.id, aggregate.version)
                else:
                    self._checked.pop(aggregate.id, None)  # known missing, say: no longer

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """What this process knew of these aggregates may be stale (a write lost its race)."""
        with self._checks:
            for aggregate_id in aggregate_ids:
                self._checked.pop(aggregate_id, None)

    def _known(self, aggregate_id: UUID) -> Any:
        """The cached aggregate if the log shows nothing newer; raises if known missing."""
        version = self._checked.get(aggregate_id)
        if version is None:
            return None
        if version == ABSENT:
            raise AggregateNotFoundError(aggregate_id)
        assert self.cache is not None
        try:
            cached: Any = self.cache.get(aggregate_id)
        except KeyError:
            return None
        return cached if cached.version == version else None

    def _check(self, aggregate_id: UUID, version: int, passes: int) -> None:
        """Records what a read found, unless what the log showed was taken in meanwhile
        (a newer event could have passed unseen)."""
        with self._checks:
            if self._passes == passes:
                self._remember(aggregate_id, version)

    def _remember(self, aggregate_id: UUID, version: int) -> None:
        self._checked[aggregate_id] = version
        self._checked.move_to_end(aggregate_id)
        if len(self._checked) > self._checked_size:
            self._checked.popitem(last=False)

    def _look_at_log(self, decision: int) -> None:
        if not self._watching:
            with self._watch:
                if not self._watching:
                    self.watch.follow(self._moved_on)
                    self._watching = True
        self.watch.look(decision)

    def _moved_on(self, batch: Sequence[Notification]) -> None:
        """Forgets what it knew of aggregates with newer events."""
        with self._checks:
            self._passes += 1
            for notification in batch:
                aggregate_id = notification.originator_id
                if not isinstance(aggregate_id, UUID):
                    aggregate_id = UUID(aggregate_id)
                version = self._checked.get(aggregate_id)
                if version is not None and notification.originator_version > version:
                    del self._checked[aggregate_id]

    def _read(self, cls: type[Aggregate], aggregate_id: UUID, for_change: bool) -> Any:
        takes_no_snapshots = cls not in self.snapshotted
        if self.snapshot_store is not None and takes_no_snapshots and self.cache is not None:
            try:
                self.cache.get(aggregate_id)
            except KeyError:  # read it as the library would, but from its events alone
                aggregate: Aggregate = self._events_only.get(aggregate_id)
                self.cache.put(aggregate_id, aggregate)
                return deepcopy(aggregate) if for_change else aggregate
        return self.get(aggregate_id, deepcopy_from_cache=for_change)


def find(
    repository: LedgerRepository, cls: type[A], aggregate_id: UUID, for_change: bool = True
) -> A | None:
    """The aggregate if it exists (and is a `cls`), else None."""
    try:
        aggregate: Aggregate = repository.get_kind(cls, aggregate_id, for_change)
    except AggregateNotFoundError:
        return None
    return aggregate if isinstance(aggregate, cls) else None
