"""Every statement line an accrual makes names its order, rule version and source events,
and says what it is: a share a store holds for a guide (outside the store's total), a
fulfilment fee, a clawback and the period it claws back from, the new payees' commission
after an attribution correction."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

from guideledger.commissions.domain.earnings import CrossBranchShipment, OrderFacts
from guideledger.commissions.domain.ledger import CommissionAccrual, StatementLine
from guideledger.commissions.domain.rules import Bucket, Payee, PayeeLevel, Posting
from guideledger.commissions.domain.settlement import SettlementPeriod, accrual_lines
from tests.unit.test_commission_rules import (
    BRAND,
    GUIDE,
    NOW,
    OTHER_BRANCH,
    RULES,
    STORE,
    STORE_PAYEE,
    facts,
)

HELD_GUIDE = Payee(PayeeLevel.GUIDE, GUIDE.payee_id, held_by_store=STORE)


def matured(accrual_facts: OrderFacts) -> tuple[CommissionAccrual, Posting]:
    """Accrued on the paid event `o:4`, delivered by `o:6`, matured in November."""
    accrual = CommissionAccrual.accrue(
        order_id=accrual_facts.order_id,
        facts=accrual_facts,
        policy=RULES,
        source_event="o:4",
        occurred_at=NOW,
    )
    accrual.record_delivery(NOW, "o:6")
    posting = accrual.mature("2026-11", NOW + timedelta(days=7), "m1")
    assert posting is not None
    return accrual, posting


def lines_by_payee(accrual: CommissionAccrual, posting: Posting) -> dict[str, StatementLine]:
    lines = accrual_lines(accrual, posting)
    found = {payee.key: line for payee, line in lines}
    assert len(found) == len(lines), "one line per payee"
    return found


def test_a_share_a_store_holds_is_a_line_of_the_stores_statement_outside_its_total() -> None:
    accrual, posting = matured(replace(facts(), payees=(HELD_GUIDE, STORE_PAYEE)))
    lines = accrual_lines(accrual, posting)
    assert {payee for payee, _ in lines} == {STORE_PAYEE}  # the guide waits for the hand-back
    own, held = (line for _, line in lines)
    assert (own.amount_fen, own.held, own.in_total) == (300, None, True)
    assert held.held == HELD_GUIDE.account(Bucket.SETTLEABLE)
    assert (held.kind, held.amount_fen, held.in_total) == ("maturity", 1100, False)
    assert (held.order_id, held.rule_version) == (accrual.order_id, 3)
    assert held.source_events == ("o:4", "o:6")
    assert held.description == f"order {accrual.order_id}, held for guide {GUIDE.payee_id}"
    statement = SettlementPeriod(BRAND, STORE_PAYEE, "2026-11")
    for line in (own, held):
        statement.add_line(line)
    assert (statement.line_count, statement.running_total_fen) == (2, 300)


def test_a_fulfilment_fee_line_names_its_order_and_says_it_is_a_fee() -> None:
    shipped = (CrossBranchShipment(OTHER_BRANCH, 10_000),)
    accrual, posting = matured(facts(cross_branch=shipped))
    fee = lines_by_payee(accrual, posting)[Payee(PayeeLevel.BRANCH, OTHER_BRANCH).key]
    assert (fee.kind, fee.amount_fen) == ("maturity", 200)
    assert (fee.order_id, fee.rule_version, fee.source_events) == (
        accrual.order_id,
        3,
        ("o:4", "o:6"),
    )
    assert fee.description == f"order {accrual.order_id}, fulfilment fee for shipping it"
    guide_line = lines_by_payee(accrual, posting)[GUIDE.key]
    assert guide_line.description == f"order {accrual.order_id}"


def test_a_clawback_line_names_its_order_its_return_and_the_period_it_claws_back_from() -> None:
    accrual, _ = matured(facts())
    posting = accrual.reverse(
        returned_fen=None,
        period="2026-12",
        at=NOW + timedelta(days=10),
        posting_id="c1",
        source_event="o:9",
        clawback=True,
    )
    assert posting is not None
    clawback = lines_by_payee(accrual, posting)[GUIDE.key]
    assert (clawback.kind, clawback.amount_fen) == ("clawback", -1100)
    assert (clawback.order_id, clawback.rule_version) == (accrual.order_id, 3)
    assert clawback.source_events == ("o:9",)
    assert clawback.description == f"order {accrual.order_id}, clawed back from 2026-11"


def test_after_an_attribution_correction_the_new_payees_lines_name_the_correction() -> None:
    accrual, _ = matured(facts())
    reversal = accrual.reverse(
        returned_fen=None,
        period="2026-12",
        at=NOW,
        posting_id="r1",
        source_event="o:8",
        clawback=False,
    )
    assert reversal is not None
    assert lines_by_payee(accrual, reversal)[GUIDE.key].source_events == ("o:8",)
    new_guide = Payee(PayeeLevel.GUIDE, uuid4())
    accrual.reaccrue(replace(facts(), payees=(new_guide,)), RULES, "2026-12", NOW, "a2", "o:8")
    posting = accrual.mature("2026-12", NOW + timedelta(days=9), "m2")
    assert posting is not None
    line = lines_by_payee(accrual, posting)[new_guide.key]
    assert (line.kind, line.order_id, line.rule_version) == ("maturity", accrual.order_id, 3)
    assert line.source_events == ("o:4", "o:6", "o:8")  # paid, delivered, corrected
