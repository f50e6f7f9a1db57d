"""What encoding and decoding one event costs: the library's mapper with its JSON
transcoder (as events were stored before) against `TypedMapper`.

`python -m bench.codec [ROUNDS]` loads the demo organisation and a few orders in
memory and settles them, so the commission ledger has events; then, for the biggest
kind of order event (`Order.Allocated`) and two commission events (an accrual, which
records the order's facts, and its maturing), it takes the event of median size of
its kind and times it through each mapper: CPU time per event (`time.process_time`,
best of three runs of ROUNDS) and the stored size. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from guideledger.api.demo import load_demo, settle_demo
from guideledger.bootstrap import bootstrap
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.eventstore.application import LedgerApplication
from guideledger.orders.domain.order import Order
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings

START = datetime(2026, 10, 1, tzinfo=UTC)
Event = DomainEventProtocol[UUID]


def typical(application: LedgerApplication, cls: type) -> Event:
    """The event of that class whose stored size is the median."""
    stored = application.recorder.select_notifications(start=1, limit=1_000_000)
    events = [application.mapper.to_domain_event(n) for n in stored]
    sized = sorted(
        (len(n.state), str(n.originator_id), e)
        for n, e in zip(stored, events, strict=True)
        if isinstance(e, cls)
    )
    return sized[len(sized) // 2][2]


def microseconds(work: Callable[[], Any], rounds: int) -> float:
    """CPU time of one call of `work`, best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(rounds):
            work()
        best = min(best, time.process_time() - started)
    return best / rounds * 1e6


def measure(mapper: Mapper[UUID], event: Event, rounds: int) -> dict[str, float]:
    stored: StoredEvent = mapper.to_stored_event(event)
    assert type(mapper.to_domain_event(stored)) is type(event)
    return {
        "write_us": round(microseconds(lambda: mapper.to_stored_event(event), rounds), 2),
        "read_us": round(microseconds(lambda: mapper.to_domain_event(stored), rounds), 2),
        "bytes": len(stored.state),
    }


def main(rounds: int) -> None:
    clock = ManualClock(START)
    with bootstrap(Settings(persistence=Persistence.MEMORY), clock) as ledger:
        load_demo(ledger, clock.set, orders=20, members=20, span=timedelta(days=5))
        clock.set(START + timedelta(days=45))
        settle_demo(ledger, START)
        samples: dict[str, tuple[LedgerApplication, type]] = {
            "Order.Allocated": (ledger.orders, Order.Allocated),
            "CommissionAccrual.Accrued": (ledger.commissions, CommissionAccrual.Accrued),
            "CommissionAccrual.Matured": (ledger.commissions, CommissionAccrual.Matured),
        }
        results = {}
        for name, (application, cls) in samples.items():
            event = typical(application, cls)
            json_mapper: Mapper[UUID] = Mapper(application.mapper.transcoder)
            results[name] = {
                "json": measure(json_mapper, event, rounds),
                "typed": measure(application.mapper, event, rounds),
            }
    print(json.dumps({"rounds": rounds, **results}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
