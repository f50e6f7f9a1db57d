"""The audit's accrual pass in parts, each in a process of its own.

One CPython process replays about 7,000 commission events a second, and the accrual
pass is 85 % of a month's audit (`bench.audit`). Accruals are independent of each
other, so the pass is cut into ranges of accrual ids, one per process, each read
from its own server-side cursor; digests are sums, so the parts' add up to the
whole pass's. Only PostgreSQL is split (several processes read one server), and
only a log big enough to repay starting the processes (under a second each).
"""

from __future__ import annotations

import atexit
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from multiprocessing import get_context
from typing import TYPE_CHECKING
from uuid import UUID

from application.audit import AccrualOutcome, AccrualParts, AccrualPass, IdRange
from infrastructure.settings import Persistence, Settings

if TYPE_CHECKING:
    from infrastructure.bootstrap import Ledger

PARALLEL_FROM_EVENTS = 100_000  # commission events; below, one process is as quick


def accrual_parts(settings: Settings, logged_events: int) -> AccrualParts | None:
    """Parts in processes where they pay; None runs the accrual pass in this process."""
    if (
        settings.resolved_persistence is not Persistence.POSTGRES
        or settings.audit_processes < 2
        or logged_events < PARALLEL_FROM_EVENTS
    ):
        return None
    return InProcesses(settings, settings.audit_processes)


class InProcesses:
    """Runs each part in a fresh process that opens the same store."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        self.processes = processes

    def __call__(self, accruals: AccrualPass) -> list[AccrualOutcome]:
        ranges = id_ranges(self.processes)
        with ProcessPoolExecutor(
            len(ranges),
            mp_context=get_context("spawn"),  # no copy of this process's pools or threads
            initializer=_open_ledger,
            initargs=(self.settings,),
        ) as pool:
            return list(pool.map(_accrual_part, repeat(accruals), ranges))


def id_ranges(parts: int) -> list[IdRange]:
    """The id space cut into `parts` equal ranges; accrual ids (uuid5) spread evenly."""
    firsts = [UUID(int=n * 2**128 // parts) for n in range(parts)]
    return [(first, end) for first, end in zip(firsts, [*firsts[1:], None], strict=True)]


_ledger: Ledger | None = None  # a worker process's own


def _open_ledger(settings: Settings) -> None:
    global _ledger
    from infrastructure.bootstrap import bootstrap  # bootstrap composes this module

    _ledger = bootstrap(settings)
    atexit.register(_ledger.close)


def _accrual_part(accruals: AccrualPass, ids: IdRange) -> AccrualOutcome:
    assert _ledger is not None, "the worker opened its ledger first"
    return _ledger.settlement_audit().accrual_part(accruals, ids)
