"""The audit's replay in parts, each in a process of its own.

One CPython process replays about 7,000 commission events a second (`bench.audit`).
Statements' lines and accruals are independent of each other, so once the log has
said where the statements are (a small pass here), they are replayed in ranges of
aggregate ids that the processes take in turn, each range read from its own
server-side cursor; digests are sums, so the parts' add up to the whole replay's. Only PostgreSQL is
split (several processes read one server), and only a log big enough to repay
starting the processes (under a second each).
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from uuid import UUID

from guideledger.commissions.application.audit import (
    PartOutcome,
    ReplayParts,
    ReplayPlan,
    SettlementAudit,
)
from guideledger.composition import compose
from guideledger.eventstore.log import IdRange
from guideledger.platform.clock import SystemClock
from guideledger.platform.persistence import setup_turn
from guideledger.platform.settings import Persistence, Settings

PARALLEL_FROM_EVENTS = 100_000  # commission events; below, one process is as quick
# A branch's statement holds many more lines than a guide's, so equal ranges of ids are
# unequal work: more ranges than processes let a process that finishes early take another.
RANGES_PER_PROCESS = 4


def replay_parts(settings: Settings, logged_events: int) -> ReplayParts | None:
    """Parts in processes where they pay (a worker process composes a ledger of its own
    from the settings); None replays in this process."""
    if (
        settings.resolved_persistence is not Persistence.POSTGRES
        or settings.audit_processes < 2
        or logged_events < PARALLEL_FROM_EVENTS
    ):
        return None
    return InProcesses(settings, settings.audit_processes)


class InProcesses:
    """Runs the parts in fresh processes that open the same store, a few parts each."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        self.processes = processes

    def __call__(
        self, plan: ReplayPlan, finished: Callable[[PartOutcome], None]
    ) -> list[PartOutcome]:
        ranges = id_ranges(self.processes * RANGES_PER_PROCESS)
        with ProcessPoolExecutor(
            self.processes,
            mp_context=get_context("spawn"),  # no copy of this process's pools or threads
            initializer=_open_ledger,
            initargs=(self.settings,),
        ) as pool:
            parts = [pool.submit(_replay_part, plan, ids) for ids in ranges]
            for part in as_completed(parts):
                finished(part.result())
            return [part.result() for part in parts]


def id_ranges(parts: int) -> list[IdRange]:
    """The id space cut into `parts` equal ranges; ids (uuid4, uuid5) spread evenly."""
    firsts = [UUID(int=n * 2**128 // parts) for n in range(parts)]
    return [(first, end) for first, end in zip(firsts, [*firsts[1:], None], strict=True)]


_audit: SettlementAudit | None = None  # a worker process's own, for all its parts


def _open_ledger(settings: Settings) -> None:
    global _audit
    with setup_turn(settings):
        ledger = compose(settings, SystemClock())
    atexit.register(ledger.close)
    _audit = ledger.settlement_audit()
    # A replay makes millions of short-lived objects and keeps almost none. Collecting
    # after every 700 of them took a fifth of its CPU; after 50,000 (a few megabytes),
    # with the ledger's own objects set aside, about a twentieth.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _replay_part(plan: ReplayPlan, ids: IdRange) -> PartOutcome:
    assert _audit is not None, "the worker opened its ledger first"
    return _audit.replay_part(plan, ids)
