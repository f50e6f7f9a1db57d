"""Every read model, kept live while a realistic history was written, equals a rebuild of
it from event zero: the same projection code serves live catch-up and full replay."""

from __future__ import annotations

from datetime import UTC, datetime

from guideledger.api.demo import load_demo, settle_demo
from guideledger.bootstrap import bootstrap
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from guideledger.readmodels.model import ProcessManager
from guideledger.readmodels.runner import ProjectionRunner
from guideledger.readmodels.store import MemoryReadModelStore

ORDERS = 1500


def test_replaying_every_event_rebuilds_every_read_model_exactly() -> None:
    start = datetime(2026, 9, 20, tzinfo=UTC)
    clock = ManualClock(start)
    live = bootstrap(Settings(persistence=Persistence.MEMORY), clock)
    live.projections.batch_size = 97  # live catch-up in many small, odd-sized batches

    def set_clock_and_catch_up(moment: datetime) -> None:
        clock.set(moment)
        if clock.now().minute % 10 == 0:
            live.projections.process_all()

    load_demo(live, set_clock_and_catch_up, orders=ORDERS, members=300)
    settle_demo(live, start)
    live.projections.process_all()

    rebuilt = ProjectionRunner(MemoryReadModelStore(), batch_size=10_000)
    for application in (live.organisation, live.orders, live.engagement, live.commissions):
        rebuilt.add_source(application)
    projections = [
        p for p in live.projections.projections.values() if not isinstance(p, ProcessManager)
    ]  # a process manager's effects are events, already in the logs
    for projection in projections:
        rebuilt.register(projection)
    rebuilt.process_all()
    tables = [table for p in projections for table in p.tables]
    assert len({table.name for table in tables}) == len(tables), "each table has one owner"
    compared = 0
    for table in tables:
        expected = live.projections.select(table, {})
        assert rebuilt.select(table, {}) == expected, table.name
        compared += len(expected)
    assert compared > 5_000  # enough rows to mean something
    live.close()
