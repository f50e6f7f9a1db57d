"""Finance's audit by replay: stored statements equal the replayed ones to the fen,
and a statement that does not is reported with the events involved. The audit reads
the log by kind of aggregate: each accrual's history whole, statements in log order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from itertools import groupby
from operator import attrgetter
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from guideledger.audit_worker import (
    PARALLEL_FROM_EVENTS,
    RANGES_PER_PROCESS,
    InProcesses,
    id_ranges,
    replay_parts,
)
from guideledger.commissions.application import audit
from guideledger.commissions.application.audit_events import VIEWS
from guideledger.commissions.domain.ledger import CommissionAccrual, StatementLine
from guideledger.commissions.domain.rules import Payee, PayeeLevel
from guideledger.commissions.domain.settlement import BrandPeriodClose, SettlementPeriod
from guideledger.composition import Ledger
from guideledger.eventstore.codec import view_decoder
from guideledger.eventstore.commands import Command
from guideledger.eventstore.log import aggregate_log
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence
from tests.app.test_commission_view import corrected_after_a_partial_refund
from tests.app.test_commissions_app import (
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
from tests.stored_json import as_stored_in_json
from tests.world import World, build_world


def settle_with_a_clawback(ledger: Ledger, world: World, clock: ManualClock) -> None:
    """Two orders settle in November; one partly returns in December, after the close."""
    without_bonus(ledger, world, clock)
    clawed = delivered_order(ledger, world)
    delivered_order(ledger, world)
    mature_and_close_november(ledger, world, clock)
    clock.advance(timedelta(days=2))
    ledger.orders.return_items(
        Command("support"), clawed, return_id="r1", line_no=2, quantity=1, reason="late"
    )
    ledger.projections.process_all()


def test_replay_matches_every_stored_statement_to_the_fen(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    audit = ledger.settlement_audit()

    november = audit.run(world.brand_id, "2026-11")
    assert november.clean, november.mismatches
    levels = sorted(key.split(":")[0] for key in november.matched)
    assert levels == ["branch", "district", "guide", "region", "store"]
    assert Payee(PayeeLevel.STORE, world.store_id).key in november.matched
    december = audit.run(world.brand_id, "2026-12", payee=guide_key(world))
    assert december.clean
    assert december.matched == [guide_key(world)]  # the clawback's statement
    assert november.events_replayed == december.events_replayed > 0


def add_a_line_by_hand(ledger: Ledger, world: World) -> SettlementPeriod:
    """500 fen typed into the guide's December statement: no posting explains it."""
    december = ledger.commissions.statement(guide_key(world), "2026-12")
    december.add_line(StatementLine("adjustment", 500, "typed in by hand", "manual-1"))
    ledger.commissions.save(december)
    return ledger.commissions.load(SettlementPeriod, december.id)


def test_a_line_no_posting_explains_is_reported_with_its_event(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    tampered = add_a_line_by_hand(ledger, world)

    report = ledger.settlement_audit().run(world.brand_id, "2026-12")
    [mismatch] = report.mismatches
    assert (mismatch.payee, mismatch.period) == (guide_key(world), "2026-12")
    assert (mismatch.stored_fen, mismatch.replayed_fen) == (500, 0)
    assert mismatch.event_ids == (f"{tampered.id}:{tampered.version}",)


def test_a_line_stored_twice_is_reported_at_twice_its_amount(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    december = ledger.commissions.statement(guide_key(world), "2026-12")
    [clawback] = ledger.commissions.statement_lines(december)
    december.add_line(clawback)
    ledger.commissions.save(december)

    report = ledger.settlement_audit().run(world.brand_id, "2026-12")
    [mismatch] = report.mismatches
    assert mismatch.what == f"line {clawback.posting_id}"
    stored, replayed = 2 * clawback.amount_fen, clawback.amount_fen
    assert (mismatch.stored_fen, mismatch.replayed_fen) == (stored, replayed)
    statement_events = [i for i in mismatch.event_ids if i.startswith(str(december.id))]
    assert len(statement_events) == 2  # the line and its copy
    assert report.matched == sorted(set(report.matched) - {guide_key(world)})


def test_an_accrual_the_rules_do_not_give_is_reported_per_payee(
    ledger: Ledger, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    as_recorded = audit.accrual_shares
    monkeypatch.setattr(
        audit,
        "accrual_shares",
        lambda *args: {payee: fen + 1 for payee, fen in as_recorded(*args).items()},
    )

    report = ledger.settlement_audit().run(world.brand_id, "2026-11")
    accruals = [m for m in report.mismatches if m.what.startswith("accrual on order")]
    assert len(accruals) == 2 * 5  # two orders, five payees each
    assert all(m.replayed_fen == m.stored_fen + 1 for m in accruals)
    assert report.accruals_checked == 2


def test_a_reaccrual_the_rules_do_not_give_is_reported_with_its_event(
    ledger: Ledger, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ledger)
    without_bonus(ledger, world, clock)
    order_id, _other = corrected_after_a_partial_refund(ledger, world)
    assert ledger.settlement_audit().run(world.brand_id, "2026-11").clean
    as_recorded = audit.accrual_shares
    monkeypatch.setattr(
        audit,
        "accrual_shares",
        lambda facts, policy: {
            payee: fen + (facts.refunded_fen > 0)
            for payee, fen in as_recorded(facts, policy).items()
        },
    )  # computes re-accruals, never first accruals, one fen high

    report = ledger.settlement_audit().run(world.brand_id, "2026-11")
    accrual = ledger.commissions.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
    reaccrued = next(
        e
        for e in ledger.commissions.events.get(accrual.id)
        if isinstance(e, CommissionAccrual.Reaccrued)
    )
    assert {m.what for m in report.mismatches} == {f"re-accrual on order {order_id}"}
    assert len(report.mismatches) == 5  # the new guide, store, district, region, branch
    assert all(m.replayed_fen == m.stored_fen + 1 for m in report.mismatches)
    assert all(
        m.event_ids[0] == f"{accrual.id}:{reaccrued.originator_version}" for m in report.mismatches
    )
    assert report.accruals_checked == 1


def test_the_log_gives_each_accrual_whole_and_statements_in_log_order(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    log = aggregate_log(ledger.commissions)

    histories = [
        [n.originator_version for n in events]
        for _, events in groupby(
            log.by_aggregate((CommissionAccrual,)), key=attrgetter("originator_id")
        )
    ]
    assert len(histories) == 2  # one per order, each once
    assert all(versions == list(range(1, len(versions) + 1)) for versions in histories)
    statements = list(log.in_log_order((SettlementPeriod, BrandPeriodClose)))
    positions = [n.id for n in statements]
    assert positions == sorted(positions)
    assert {n.topic.split(":")[1].split(".")[0] for n in statements} == {
        "SettlementPeriod",
        "BrandPeriodClose",
    }


class Till(Aggregate):
    """An aggregate of this test's own, with one event's name the start of another's."""

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        pass

    class Paid(Aggregate.Event):
        pass

    @event(Paid)
    def pay(self) -> None:
        pass

    class PaidOut(Aggregate.Event):
        pass

    @event(PaidOut)
    def pay_out(self) -> None:
        pass


def test_the_log_gives_an_event_class_exactly_and_an_aggregate_all_its_events(
    ledger: Ledger,
) -> None:
    till = Till()
    till.pay()
    till.pay_out()
    ledger.orders.save(till)
    log = aggregate_log(ledger.orders)
    paid = Till.Paid

    def names(notifications: Iterable[Notification]) -> list[str]:
        return [n.topic.rsplit(".", 1)[1] for n in notifications]

    assert names(log.in_log_order((paid,))) == ["Paid"]
    assert names(log.by_aggregate((paid,))) == ["Paid"]
    assert names(log.in_log_order((Till,))) == ["Opened", "Paid", "PaidOut"]


def test_the_log_gives_the_accruals_of_an_id_range_and_ranges_cover_all(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    log = aggregate_log(ledger.commissions)
    whole = [
        (n.originator_id, n.originator_version) for n in log.by_aggregate((CommissionAccrual,))
    ]

    for parts in (1, 2, 3):
        in_parts = [
            (n.originator_id, n.originator_version)
            for ids in id_ranges(parts)
            for n in log.by_aggregate((CommissionAccrual,), ids)
        ]
        assert in_parts == whole
    first, end = id_ranges(2)[1]
    assert all(
        first <= UUID(str(n.originator_id))
        for n in log.by_aggregate((CommissionAccrual,), (first, end))
    )


def test_an_audit_in_processes_reports_what_one_process_reports(
    pg_ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(pg_ledger)
    settle_with_a_clawback(pg_ledger, world, clock)
    add_a_line_by_hand(pg_ledger, world)
    alone = pg_ledger.settlement_audit()
    in_processes = pg_ledger.settlement_audit()
    in_processes.parts = InProcesses(pg_ledger.settings, processes=3)

    for period in ("2026-11", "2026-12"):
        assert in_processes.run(world.brand_id, period) == alone.run(world.brand_id, period)
    progress: list[int] = []
    december_report = in_processes.run(world.brand_id, "2026-12", progress=progress.append)
    assert progress == sorted(progress)  # after the index pass, then as each part finishes
    assert len(progress) == 1 + 3 * RANGES_PER_PROCESS
    assert progress[-1] == december_report.events_replayed
    [mismatch] = december_report.mismatches
    assert (mismatch.stored_fen, mismatch.replayed_fen) == (500, 0)
    assert december_report.accruals_checked == 2


def test_only_a_big_log_on_postgres_is_audited_in_processes(ledger: Ledger) -> None:
    settings = ledger.settings.model_copy(update={"audit_processes": 2})
    big = replay_parts(settings, PARALLEL_FROM_EVENTS)
    if ledger.settings.resolved_persistence is Persistence.POSTGRES:
        assert isinstance(big, InProcesses)
    else:
        assert big is None  # the embedded store is one process's
    assert replay_parts(settings, PARALLEL_FROM_EVENTS - 1) is None
    one = ledger.settings.model_copy(update={"audit_processes": 1})
    assert replay_parts(one, PARALLEL_FROM_EVENTS) is None


def test_the_audit_reads_an_event_stored_in_json_as_one_stored_in_messagepack(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    commissions = ledger.commissions
    stored = commissions.recorder.select_notifications(start=1, limit=10_000)
    read = 0
    for event_class, view in VIEWS.items():
        as_stored = view_decoder(commissions.mapper, event_class, view)
        for notification in (n for n in stored if resolve_topic(n.topic) is event_class):
            in_json = as_stored_in_json(commissions, notification)
            assert notification.state[:1] != b"{"
            assert in_json.state[:1] == b"{"
            assert as_stored(in_json) == as_stored(notification)
            read += 1
    assert read >= 5  # lines, maturings and the clawback
