"""An accrual booked again under changed rules: each payee gets the difference, in the
bucket the commission is in, and it matures and reverses as accrued under the new rules."""

from __future__ import annotations

from datetime import timedelta

from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import (
    Bucket,
    CommissionPolicy,
    PayeeLevel,
    PostingKind,
    RateRule,
    expense_account,
)
from guideledger.commissions.domain.settlement import accrual_lines
from tests.unit.test_commission import BRAND, GUIDE, NOW, RULES, STORE, accrual

# Version 3 pays the guide 5% (1,585 fen of 31,700) and the store nothing.
GUIDE_AT_5 = CommissionPolicy(version=3, rates=(RateRule(PayeeLevel.GUIDE, 500),))


def delivered_and_matured() -> CommissionAccrual:
    a = accrual()
    a.record_delivery(NOW, "o:6")
    a.mature("2026-11", NOW + timedelta(days=7), "m1")
    return a


def test_a_pending_correction_moves_the_difference_and_matures_under_the_new_rules() -> None:
    a = accrual()
    posting = a.correct(
        GUIDE_AT_5, period="2026-11", at=NOW, posting_id="c1", source_events=("o:4", "b:2")
    )
    assert posting is not None
    assert posting.kind is PostingKind.CORRECTION
    assert posting.amount_to(GUIDE.account(Bucket.PENDING)) == 1585 - 951
    assert posting.amount_to(STORE.account(Bucket.PENDING)) == -317
    assert posting.amount_to(expense_account(BRAND)) == -(634 - 317)
    assert sum(e.amount_fen for e in posting.entries) == 0
    assert (posting.rule_version, posting.source_events) == (3, ("o:4", "b:2"))
    assert a.outstanding == {GUIDE.key: 1585, STORE.key: 0}
    assert (a.rule_version, a.previous_rule_version) == (3, RULES.version)
    assert accrual_lines(a, posting) == []  # pending: no statement sees it yet

    a.record_delivery(NOW, "o:6")
    matured = a.mature("2026-11", NOW + timedelta(days=7), "m1")
    assert matured is not None
    assert matured.amount_to(GUIDE.account(Bucket.SETTLEABLE)) == 1585
    assert matured.rule_version == 3


def test_a_settled_correction_is_a_statement_line_naming_both_rule_versions() -> None:
    a = delivered_and_matured()
    posting = a.correct(GUIDE_AT_5, period="2026-12", at=NOW, posting_id="c1", source_events=())
    assert posting is not None
    assert posting.amount_to(GUIDE.account(Bucket.SETTLEABLE)) == 634
    [(payee, line), (store, clawed)] = accrual_lines(a, posting)
    assert (payee, line.kind, line.amount_fen) == (GUIDE, "correction", 634)
    assert (line.rule_version, line.previous_rule_version, line.order_id) == (3, 2, a.order_id)
    assert "v2 → v3" in line.description
    assert (store, clawed.amount_fen) == (STORE, -317)


def test_a_correction_after_a_partial_return_keeps_what_the_new_rules_leave_net() -> None:
    a = delivered_and_matured()
    a.reverse(
        returned_fen=10_000,
        period="2026-11",
        at=NOW,
        posting_id="r1",
        source_event="o:7",
        clawback=False,
    )
    a.correct(GUIDE_AT_5, period="2026-11", at=NOW, posting_id="c1", source_events=())
    assert a.outstanding[GUIDE.key] == 1585 - 500  # 5% of the 21,700 fen kept, half up
    assert a.outstanding[STORE.key] == 0
    a.reverse(
        returned_fen=31_700,
        period="2026-11",
        at=NOW,
        posting_id="r2",
        source_event="o:8",
        clawback=False,
    )
    assert a.outstanding == {GUIDE.key: 0, STORE.key: 0}


def test_rules_that_change_no_amount_record_nothing() -> None:
    a = accrual()
    a.collect_events()
    same_rates = CommissionPolicy(version=4, rates=RULES.rates)
    assert (
        a.correct(same_rates, period="2026-11", at=NOW, posting_id="c1", source_events=()) is None
    )
    assert a.collect_events() == []
    assert a.rule_version == RULES.version
