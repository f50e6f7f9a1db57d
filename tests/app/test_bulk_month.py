"""The benchmark's bulk month is what the commands would have written: finance's audit
replays it and finds every accrual and statement as the ledger's own rules make them."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.month import write_month
from guideledger.api.demo import BRAND_ID
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock

MONTH_START = datetime(2026, 9, 30, 16, tzinfo=UTC)  # 1 October in Asia/Shanghai
SETTLED_AT = datetime(2026, 11, 20, tzinfo=UTC)


def test_a_bulk_month_audits_clean(ledger: Ledger, clock: ManualClock) -> None:
    written = write_month(ledger, clock.set, 300, MONTH_START, SETTLED_AT, members=50)

    report = ledger.settlement_audit().run(BRAND_ID, "2026-10")

    assert report.clean, report.mismatches[:3]
    assert report.accruals_checked == 300
    assert len(report.matched) > 100  # guides, stores, districts, regions, branches
    assert written["statements"] >= len(report.matched)
    assert ledger.commissions.is_closed(BRAND_ID, MONTH_START)


def test_a_bulk_month_is_stored_as_the_commands_store_events(
    ledger: Ledger, clock: ManualClock
) -> None:
    write_month(ledger, clock.set, 20, MONTH_START, SETTLED_AT, members=10)

    stored = ledger.commissions.recorder.select_notifications(start=1, limit=1_000)
    assert stored
    assert all(n.state[:1] != b"{" for n in stored)  # MessagePack, not the former JSON
