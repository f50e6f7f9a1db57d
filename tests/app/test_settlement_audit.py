"""Finance's audit by replay: stored statements equal the replayed ones to the fen,
and a statement that does not is reported with the events involved."""

from __future__ import annotations

from datetime import timedelta

from application.framework import Command
from domain.commission import Payee, PayeeLevel
from domain.ledger import SettlementPeriod, StatementLine
from infrastructure.bootstrap import Ledger
from infrastructure.clock import ManualClock
from tests.app.test_commissions_app import (
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
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


def test_a_line_no_posting_explains_is_reported_with_its_event(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    settle_with_a_clawback(ledger, world, clock)
    december = ledger.commissions.statement(guide_key(world), "2026-12")
    december.add_line(StatementLine("adjustment", 500, "typed in by hand", "manual-1"))
    ledger.commissions.save(december)
    tampered = ledger.commissions.load(SettlementPeriod, december.id)

    report = ledger.settlement_audit().run(world.brand_id, "2026-12")
    [mismatch] = report.mismatches
    assert (mismatch.payee, mismatch.period) == (guide_key(world), "2026-12")
    assert (mismatch.stored_fen, mismatch.replayed_fen) == (500, 0)
    assert mismatch.event_ids == (f"{december.id}:{tampered.version}",)
