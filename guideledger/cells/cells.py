"""Every group's ledger, in whichever store holds it: the home store, or the group's own
store on the cell the directory names.

Any process serves any group: a group's store is opened the first time one of its
requests arrives (its pools keep one connection each and grow under load). A cell that
cannot be reached refuses only its own groups' requests (`CellUnavailable`, answered 503)
and is tried again a moment later, so service resumes when it returns. A cell whose
primary stops answering while its stores are open is noticed within a moment (its
primary is asked every `WATCH_SECONDS`): it is refused and its stores here are closed, so
the requests waiting on them fail at once instead of holding the server's threads, and
they are opened afresh once it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from functools import partial
from uuid import UUID

import psycopg
import psycopg_pool
from eventsourcing import persistence
from pydantic import SecretStr

from guideledger.bootstrap import bootstrap
from guideledger.cells.directory import Cell, Directory, Placement, UnknownCell
from guideledger.cells.replicas import Replica
from guideledger.cells.watch import WATCH_SECONDS, Pings, answers_now
from guideledger.composition import Ledger
from guideledger.eventstore.application import Clock
from guideledger.eventstore.datastore import StoreClosed
from guideledger.kernel.errors import DomainError
from guideledger.organisation.domain.group import Group
from guideledger.platform.settings import Settings

log = logging.getLogger("guideledger.cells")
PLACEMENT_SECONDS = 1.0  # how long a process trusts a placement it read (moves wait longer)
RETRY_SECONDS = 1.0  # how long an unreachable cell is refused before it is tried again
TRYING_SECONDS = 10.0  # how long its other requests are refused while one tries it again
HOME = "home"

StoreKey = tuple[str, str]
"""A store: its cell and its schema (the home store's cell is `HOME`)."""

UNREACHABLE = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    persistence.OperationalError,
    persistence.InterfaceError,
    StoreClosed,  # lost meanwhile: see `_lose`
)
"""What a store whose server is down or unreachable raises."""


class CellUnavailable(DomainError):
    """The server holding the group's store cannot be reached now; nothing was recorded."""

    type = "cell-unavailable"


OpenStore = Callable[[Settings], Ledger]
Serving = tuple[Ledger, bool]
"""The ledger of a group's store, and whether its cell has replicas."""


class Cells:
    def __init__(
        self, home: Ledger, directory: Directory | None = None, open_store: OpenStore | None = None
    ) -> None:
        self.home = home
        self.directory = directory
        self._open_store = open_store
        self._ledgers: dict[StoreKey, Ledger] = {}
        self._placements: dict[UUID, tuple[float, Placement | None]] = {}
        self._refused_until: dict[str, float] = {}
        self._opening: dict[StoreKey, threading.Lock] = {}
        self._cells: dict[str, tuple[float, Cell]] = {}
        self._replicas: dict[tuple[str, str], Replica] = {}
        self._guard = threading.Lock()
        self._primaries: dict[str, str] = {}  # of the cells with stores opened here
        self._closing = threading.Event()
        self._watch = threading.Thread(target=self._watch_cells, name="cell-watch", daemon=True)
        if directory is not None:
            self._watch.start()

    @property
    def home_key(self) -> StoreKey:
        return HOME, self.home.settings.postgres_schema

    def known(self, group_id: UUID | None) -> Serving | None:
        """The group's ledger and whether its cell has replicas, if this process knows
        both without asking the directory (None: it must ask: `serving`)."""
        if self.directory is None or group_id is None:
            return self.home, False
        now = time.monotonic()
        placed = self._placements.get(group_id)
        if placed is None or placed[0] < now:
            return None
        if placed[1] is None:
            return self.home, False
        ledger, cell = self._ledgers.get(_key(placed[1])), self._cells.get(placed[1].cell_id)
        if ledger is None or cell is None or cell[0] < now:
            return None
        return ledger, bool(cell[1].replica_urls)

    def serving(self, group_id: UUID | None) -> Serving:
        """The ledger of the store holding the group and whether its cell has replicas,
        asking the directory if need be."""
        placement = None if group_id is None else self.placement(group_id)
        if placement is None:
            return self.home, False
        return self.store(placement), bool(self.cell(placement.cell_id).replica_urls)

    def ledger_for(self, group_id: UUID | None) -> Ledger:
        """The ledger of the store holding the group (the home store's for no group)."""
        return self.serving(group_id)[0]

    def place(self, group_id: UUID, cell_id: str | None = None) -> Ledger:
        """The ledger a new group is registered in: a store of its own on the cell named
        or, if none is named, the least loaded (without cells: the home store). A group
        the home store already holds stays there."""
        if self.directory is None:
            if cell_id is not None:
                raise UnknownCell("this deployment has no cells", field="cell_id")
            return self.home
        unplaced = self.directory.placement(group_id) is None
        if unplaced and self.home.organisation.exists(Group, group_id):
            return self.home
        placement = self.directory.place(group_id, cell_id)
        self._placements.pop(group_id, None)
        return self.store(placement)

    def placement(self, group_id: UUID) -> Placement | None:
        """Where the directory places the group (None: the home store), as read at most
        `PLACEMENT_SECONDS` ago."""
        if self.directory is None:
            return None
        cached = self._placements.get(group_id)
        if cached is not None and cached[0] >= time.monotonic():
            return cached[1]
        try:
            placement = self.directory.placement(group_id)
        except UNREACHABLE:
            raise CellUnavailable("the cell directory cannot be reached; retry shortly") from None
        self._placements[group_id] = (time.monotonic() + PLACEMENT_SECONDS, placement)
        return placement

    def forget_placement(self, group_id: UUID) -> None:
        """Reads the group's placement afresh next time (it moved)."""
        self._placements.pop(group_id, None)

    def store(self, placement: Placement) -> Ledger:
        """The ledger over the placed store, opened on first use."""
        return self._store(_key(placement))

    def _store(self, key: StoreKey) -> Ledger:
        if (ledger := self._ledgers.get(key)) is not None:
            return ledger
        with self._guard:
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:
            if (ledger := self._ledgers.get(key)) is not None:
                return ledger
            ledger = self._open(key)
            self._ledgers[key] = ledger
            return ledger

    def _open(self, key: StoreKey) -> Ledger:
        if self.directory is None or self._open_store is None:
            raise CellUnavailable("this process serves no cells")
        cell_id, schema = key
        self._take_turn_to_try(cell_id)
        try:
            cell = self.cell(cell_id)
            ledger = self.open_store(cell, schema)
        except UNREACHABLE as unreachable:
            if self.cell_answers(cell_id):  # up, but slow to open the store under load
                self._refused_until.pop(cell_id, None)
                raise CellUnavailable(f"cell {cell_id} is busy; retry shortly") from None
            log.warning("cell %s refused: %s", cell_id, unreachable)
            self._refused_until[cell_id] = time.monotonic() + RETRY_SECONDS
            raise _unavailable(cell_id) from None
        self._refused_until.pop(cell_id, None)
        self._primaries[cell_id] = cell.primary_url
        return ledger

    def _take_turn_to_try(self, cell_id: str) -> None:
        """Refuses a refused cell's request; once the refusal ends, lets this request try
        the cell again and refuses the others until it knows, so a cell that went silent
        holds one request for a connect timeout, not every request (and thread) of its
        groups."""
        with self._guard:
            until = self._refused_until.get(cell_id)
            if until is None:
                return
            if until > time.monotonic():
                raise _unavailable(cell_id)
            self._refused_until[cell_id] = time.monotonic() + TRYING_SECONDS

    def _lose(self, cell_id: str) -> None:
        """Refuses the cell's groups for `RETRY_SECONDS` and closes its stores here: their
        requests in flight fail at once (503), and the stores are opened afresh after."""
        self._refused_until[cell_id] = time.monotonic() + RETRY_SECONDS
        for key in [key for key in list(self._ledgers) if key[0] == cell_id]:
            self.close_store(key)

    def _watch_cells(self) -> None:
        """Loses each cell whose primary stops answering, until `close`."""
        with closing(Pings()) as pings:
            while not self._closing.wait(WATCH_SECONDS):
                try:
                    self._ask_each_cell(pings)
                except Exception:
                    log.exception("watching the cells failed; watching on")

    def _ask_each_cell(self, pings: Pings) -> None:
        serving = {cell_id for cell_id, _schema in list(self._ledgers)}
        pings.keep_only(serving)
        for cell_id in serving:
            if not pings.answers(cell_id, self._primaries[cell_id]):
                log.warning("cell %s does not answer; its groups wait for it", cell_id)
                self._lose(cell_id)

    def cell_answers(self, cell_id: str) -> bool:
        """Whether the cell's primary takes a connection now."""
        try:
            return answers_now(self.cell(cell_id).primary_url)
        except UNREACHABLE:  # the directory
            return False

    def cell(self, cell_id: str) -> Cell:
        """The cell as the directory listed it at most `PLACEMENT_SECONDS` ago."""
        assert self.directory is not None
        cached = self._cells.get(cell_id)
        if cached is not None and cached[0] >= time.monotonic():
            return cached[1]
        cell = self.directory.cell(cell_id)
        self._cells[cell_id] = (time.monotonic() + PLACEMENT_SECONDS, cell)
        return cell

    def replica(self, group_id: UUID | None) -> Replica | None:
        """The group's store on a streaming replica of its cell, if the cell has one."""
        placement = None if group_id is None else self.placement(group_id)
        if placement is None:
            return None
        replicas = self.cell(placement.cell_id).replica_urls
        if not replicas:
            return None
        key = (replicas[placement.group_id.int % len(replicas)], placement.schema)
        with self._guard:
            if key not in self._replicas:
                pool_size = self.home.settings.cell_pool_size
                self._replicas[key] = Replica(*key, pool_size)
            return self._replicas[key]

    def open_store(self, cell: Cell, schema: str) -> Ledger:
        """A ledger over the schema on the cell (its tables made if missing), opened afresh
        and not kept: the caller closes it."""
        if self._open_store is None:
            raise CellUnavailable("this process serves no cells")
        return self._open_store(store_settings(self.home.settings, cell, schema))

    def stores(self, cell_ids: Iterable[str] | None = None) -> Iterator[tuple[StoreKey, Ledger]]:
        """Every store the directory places a group in (on the cells named, if any) and,
        unless cells are named, the home store; a store that cannot be opened is skipped."""
        named = None if cell_ids is None else set(cell_ids)
        if named is None or HOME in named:
            yield self.home_key, self.home
        if self.directory is None:
            return
        placements = self.directory.placements(None if named is None else named - {HOME})
        for key in dict.fromkeys(_key(placement) for placement in placements):
            try:
                yield key, self._store(key)
            except CellUnavailable:
                continue

    def close_store(self, key: StoreKey) -> None:
        """Closes a store this process no longer serves (its group moved away)."""
        ledger = self._ledgers.pop(key, None)
        if ledger is not None:
            ledger.close()

    def close(self) -> None:
        self._closing.set()
        if self._watch.is_alive():
            self._watch.join()
        for replica in self._replicas.values():
            replica.close()
        for key in list(self._ledgers):
            self.close_store(key)
        self.home.close()
        if self.directory is not None:
            self.directory.close()

    def __enter__(self) -> Cells:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_cells(settings: Settings, clock: Clock | None = None) -> Cells:
    """The home store's ledger and, with a directory configured, every cell's stores, all
    on the home store's clock (a sandbox's clock is the whole platform's)."""
    home = bootstrap(settings, clock)
    url = settings.directory_conninfo
    if url is None:
        return Cells(home)
    return Cells(home, Directory(url), partial(bootstrap, clock=home.clock))


def _unavailable(cell_id: str) -> CellUnavailable:
    return CellUnavailable(f"cell {cell_id} cannot be reached; retry shortly")


def _key(placement: Placement) -> StoreKey:
    return placement.cell_id, placement.schema


def store_settings(home: Settings, cell: Cell, schema: str) -> Settings:
    """The settings of a group's store on a cell: the home settings but for the server,
    the schema and lazily opened pools."""
    return home.model_copy(
        update={
            "database_url": SecretStr(cell.primary_url),
            "postgres_schema": schema,
            "postgres_pool_size": home.cell_pool_size,
            "postgres_max_overflow": 0,
            "postgres_pool_lazy": True,
            "directory_url": None,
        }
    )
