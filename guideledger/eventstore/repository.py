"""The library's repository, asking the snapshot store only for kinds that take snapshots,
and letting the decisions of one turn share what they read and change."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)


class LedgerRepository(Repository[UUID]):
    """The library's repository, except that a read naming its kind (`get_kind`) asks the
    snapshot store only for the kinds that take snapshots.

    The library's repository asks the snapshot store first on every read its cache
    misses, whatever the aggregate. A place-order reads things that do not exist yet (a
    member's binding, a policy book never published), and each would cost one more
    round trip; a stock, with tens of thousands of events, must start from its
    snapshot. Reads of a given version (snapshots are taken from those) are the
    library's, snapshots included."""

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
        self._turn = threading.local()

    @contextmanager
    def sharing(self, shared: dict[UUID, Aggregate | None]) -> Iterator[None]:
        """Reads of this thread meanwhile go through `shared`: an aggregate read once is
        read from there again (None: it does not exist), and a decision puts there what it
        changed, so the next decision sees it. Each read is a copy: a refused decision
        leaves nothing behind."""
        outer = getattr(self._turn, "shared", None)
        self._turn.shared = shared
        try:
            yield
        finally:
            self._turn.shared = outer

    def get_kind(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate:
        """The aggregate with that id (of whatever kind it is: the caller checks)."""
        shared: dict[UUID, Aggregate | None] | None = getattr(self._turn, "shared", None)
        if shared is None:
            return self._get_kind(cls, aggregate_id)
        if aggregate_id not in shared:
            try:
                shared[aggregate_id] = self._get_kind(cls, aggregate_id)
            except AggregateNotFoundError:
                shared[aggregate_id] = None
        aggregate = shared[aggregate_id]
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return deepcopy(aggregate)

    def _get_kind(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate:
        takes_no_snapshots = cls not in self.snapshotted
        if self.snapshot_store is not None and takes_no_snapshots and self.cache is not None:
            try:
                self.cache.get(aggregate_id)
            except KeyError:  # read it as the library would, but from its events alone
                aggregate: Aggregate = self._events_only.get(aggregate_id)
                self.cache.put(aggregate_id, aggregate)
                return deepcopy(aggregate)  # the cached one stays as stored
        found: Aggregate = self.get(aggregate_id)
        return found


def find(repository: LedgerRepository, cls: type[A], aggregate_id: UUID) -> A | None:
    """The aggregate if it exists (and is a `cls`), else None."""
    try:
        aggregate: Aggregate = repository.get_kind(cls, aggregate_id)
    except AggregateNotFoundError:
        return None
    return aggregate if isinstance(aggregate, cls) else None
