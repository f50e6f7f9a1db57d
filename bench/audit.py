"""The settlement audit's replay on PostgreSQL: how long finance waits, and its peak memory.

`python -m bench.audit load SCHEMA N` writes the demo organisation and N orders over
October 2026 in bulk (`bench.month`: paid, shipped, delivered, some returned, their
commissions accrued and matured as the commands would), then closes October;
`python -m bench.audit run SCHEMA` audits October for every payee and prints a JSON
line: commission events replayed, accruals (paid orders) checked, statements compared,
seconds, rates, the process's peak memory and the highest peak of the processes
replaying the log in parts (`GUIDELEDGER_AUDIT_PROCESSES`, default one per core).
`bench.suite` runs each part in its own process so the peak belongs to the audit.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from pydantic import SecretStr

from bench.common import ChildrenPeak, database_url, peak_mb
from bench.month import write_month
from guideledger.api.demo import BRAND_ID
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings

MONTH_START = datetime(2026, 9, 30, 16, tzinfo=UTC)  # 1 October in Asia/Shanghai
AUDITED = "2026-10"
SETTLED_AT = datetime(2026, 11, 20, tzinfo=UTC)  # return windows over: commissions matured


def ledger_in(schema: str, clock: ManualClock) -> Ledger:
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(database_url()),
        postgres_schema=schema,
    )
    return bootstrap(settings, clock)


def load(schema: str, orders: int) -> None:
    clock = ManualClock(MONTH_START)
    started = time.perf_counter()
    with ledger_in(schema, clock) as ledger:
        written = write_month(ledger, clock.set, orders, MONTH_START, SETTLED_AT, progress=_tick)
    print(json.dumps({**written, "seconds": time.perf_counter() - started}))


def _tick(done: int) -> None:
    if done % 100_000 == 0:
        print(f"{done:,} orders written", file=sys.stderr, flush=True)


def run(schema: str) -> None:
    with ledger_in(schema, ManualClock(SETTLED_AT)) as ledger, ChildrenPeak() as parts:
        started = time.perf_counter()
        report = ledger.settlement_audit().run(BRAND_ID, AUDITED)
        seconds = time.perf_counter() - started
        processes = ledger.settings.audit_processes
    accruals = report.accruals_checked
    print(
        json.dumps(
            {
                "events": report.events_replayed,
                "accruals": accruals,
                "statements": len(report.matched),
                "mismatches": len(report.mismatches),
                "seconds": seconds,
                "events_per_second": report.events_replayed / seconds,
                "orders_per_second": accruals / seconds,
                "peak_mb": peak_mb(),
                "processes": processes,
                "part_peak_mb": parts.mb,  # the highest of the parts' processes, if any
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(sys.argv[2], int(sys.argv[3]))
    else:
        run(sys.argv[2])
