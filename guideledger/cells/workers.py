"""A worker's share of every cell: each store's read models, process managers, event feed
and webhooks, kept current by whichever worker leads that store.

Any number of workers may run, on any machine: each serves every store placed on the
cells it is given, and a session advisory lock on each store's server (taken per store by
its read-model store) lets one worker lead it at a time. A worker that dies releases its
locks with its connections, and another takes its stores over; positions move with the
rows, so nothing is lost or done twice. Stores placed or moved away while a worker runs
are picked up or let go at its next look at the directory, and a store closed because its
cell was lost is served again once it is opened afresh.

One leader per store, not per projection: each projection still has one leader, and the
leader of a store runs all its followers in one thread on one lock connection (a lock per
projection would take a connection per follower per store). Correctness does not rest
on the lock: a projection's batch moves its position by compare-and-set in the batch's
transaction, and a process manager's commands are idempotent, so two leaders for a
moment (one whose lock connection broke unnoticed) would waste work, not double it (the
feed's and webhooks' receivers get each event at least once anyway, the feed's with an
id to drop a repeat by).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from guideledger.cells.cells import Cells, StoreKey
from guideledger.composition import Ledger

log = logging.getLogger("guideledger.worker")
LOOK_SECONDS = 2.0  # how often a worker reads the directory


def work(cells: Cells, stopping: threading.Event, cell_ids: Iterable[str] | None = None) -> None:
    """Runs each store's background work in threads of its own until `stopping` is set
    (closing `cells` stops them)."""
    named = None if cell_ids is None else list(cell_ids)
    running: dict[StoreKey, Ledger] = {}
    while not stopping.is_set():
        try:
            _follow_the_directory(cells, running, named)
        except Exception:
            log.exception("reading the cell directory failed; retrying")
        stopping.wait(LOOK_SECONDS)


def _follow_the_directory(
    cells: Cells, running: dict[StoreKey, Ledger], named: list[str] | None
) -> None:
    wanted = dict(cells.stores(named))
    for key, ledger in wanted.items():
        if running.get(key) is not ledger:  # new here, or opened afresh (its cell returned)
            ledger.webhooks.start(ledger.projections.store.leads_background_work)
            ledger.projections.start()
            running[key] = ledger
            log.info("serving the store %s/%s", *key)
    for key in set(running) - set(wanted):
        del running[key]
        cells.close_store(key)
        log.info("let go of the store %s/%s", *key)
