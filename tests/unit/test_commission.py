"""Commission rules, postings, accruals, periods and statements as plain domain tests."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from guideledger.commissions.domain.earnings import OrderFacts
from guideledger.commissions.domain.ledger import CommissionAccrual, LedgerError, StatementLine
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    CommissionPolicy,
    Entry,
    Payee,
    PayeeLevel,
    Posting,
    PostingKind,
    RateRule,
    SaleLine,
    commissions,
    expense_account,
)
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.periods import PeriodClosed, days_of, next_period, period_end, period_of

NOW = datetime(2026, 11, 10, tzinfo=UTC)
BRAND = uuid4()
GUIDE = Payee(PayeeLevel.GUIDE, uuid4())
STORE = Payee(PayeeLevel.STORE, uuid4())


def test_the_most_specific_rate_wins() -> None:
    policy = CommissionPolicy(
        rates=(
            RateRule(PayeeLevel.GUIDE, 300),
            RateRule(PayeeLevel.GUIDE, 400, channel="guide_qr"),
            RateRule(PayeeLevel.GUIDE, 500, category="footwear"),
            RateRule(PayeeLevel.GUIDE, 800, category="footwear", channel="guide_qr"),
        )
    )
    assert policy.rate(PayeeLevel.GUIDE, "apparel", "direct") == 300
    assert policy.rate(PayeeLevel.GUIDE, "apparel", "guide_qr") == 400
    assert policy.rate(PayeeLevel.GUIDE, "footwear", "direct") == 500
    assert policy.rate(PayeeLevel.GUIDE, "footwear", "guide_qr") == 800
    assert policy.rate(PayeeLevel.REGION, "footwear", "guide_qr") == 0


def test_commission_is_summed_exactly_over_lines_then_rounded_half_up_once() -> None:
    lines = [SaleLine(150, "a"), SaleLine(150, "a")]  # 1% of each is 1.5 fen
    policy = CommissionPolicy(rates=(RateRule(PayeeLevel.GUIDE, 100),))
    assert commissions(lines, "direct", [GUIDE], policy) == {GUIDE: 3}  # not 2 + 2
    assert commissions([SaleLine(50, "a")], "direct", [GUIDE], policy) == {GUIDE: 1}  # 0.5 → 1
    assert commissions([SaleLine(49, "a")], "direct", [GUIDE], policy) == {}  # 0.49 → nothing


def test_a_posting_must_balance_and_move_money() -> None:
    a, b = GUIDE.account(Bucket.PENDING), STORE.account(Bucket.PENDING)
    with pytest.raises(InvalidValue):
        Posting("p", PostingKind.ACCRUAL, BRAND, (Entry(a, 5), Entry(b, -4)), "2026-11", NOW)
    with pytest.raises(InvalidValue):
        Posting("p", PostingKind.ACCRUAL, BRAND, (Entry(a, 0),), "2026-11", NOW)


def test_held_shares_sit_at_the_store() -> None:
    held = Payee(PayeeLevel.GUIDE, GUIDE.payee_id, held_by_store=STORE.payee_id)
    assert held.account(Bucket.SETTLEABLE) == f"store:{STORE.payee_id}:held:{GUIDE.payee_id}"
    assert held.account(Bucket.PAYABLE) == f"guide:{GUIDE.payee_id}:payable"


def test_an_account_is_its_stored_text_and_reads_back_its_parts() -> None:
    held = Payee(PayeeLevel.GUIDE, GUIDE.payee_id, held_by_store=STORE.payee_id)
    account = Account.parse(f"store:{STORE.payee_id}:held:{GUIDE.payee_id}")
    assert account == held.account(Bucket.SETTLEABLE)
    assert (account.level, account.owner_id, account.bucket) == (
        PayeeLevel.STORE,
        STORE.payee_id,
        Bucket.HELD,
    )
    assert account.held_for == GUIDE.payee_id
    assert (account.owner, account.bucket_name) == (STORE.key, f"held:{GUIDE.payee_id}")
    expense = expense_account(BRAND)
    assert str(expense) == f"brand:{BRAND}:commission_expense"
    assert (expense.level, expense.owner, expense.held_for) == ("brand", f"brand:{BRAND}", None)
    assert Account.parse(str(expense)) == expense
    assert GUIDE.account(Bucket.PAYABLE).bucket_name == "payable"


@pytest.mark.parametrize(
    "text",
    [
        "guide:1:pending",
        f"guide:{BRAND}",
        f"guide:{BRAND}:owed",
        f"member:{BRAND}:pending",
        f"store:{BRAND}:held",  # a held bucket names its guide
        f"guide:{BRAND}:pending:{BRAND}",  # only a held bucket does
        f"store:{BRAND}:held:{BRAND}:more",
    ],
)
def test_text_that_is_not_an_account_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        Account.parse(text)


def test_an_entry_decoded_from_its_stored_text_holds_an_account() -> None:
    text = f"guide:{GUIDE.payee_id}:pending"
    entry = Entry(text, 5)  # type: ignore[arg-type]  # as the transcoder rebuilds it
    assert type(entry.account) is Account
    assert entry.account == GUIDE.account(Bucket.PENDING)


RULES = CommissionPolicy(
    version=2, rates=(RateRule(PayeeLevel.GUIDE, 300), RateRule(PayeeLevel.STORE, 100))
)


def sale(*lines: SaleLine) -> OrderFacts:
    """A guide's sale of 31,700 fen: one line of apparel unless other lines are given."""
    return OrderFacts(
        order_id=uuid4(),
        brand_id=BRAND,
        paid_period="2026-11",
        paid_fen=31_700,
        channel="guide_qr",
        lines=lines or (SaleLine(31_700, "apparel"),),
        payees=(GUIDE, STORE),
    )


def accrual(facts: OrderFacts | None = None, policy: CommissionPolicy = RULES) -> CommissionAccrual:
    """951 fen for the guide and 317 for the store, unless other facts or rules are given."""
    return CommissionAccrual.accrue(
        order_id=uuid4(),
        facts=facts or sale(),
        policy=policy,
        source_event="o:4",
        occurred_at=NOW,
    )


def test_accrual_posts_expense_against_each_payees_pending() -> None:
    facts = sale()
    [event] = accrual(facts).collect_events()
    assert isinstance(event, CommissionAccrual.Accrued)
    posting = event.posting
    assert posting is not None
    assert posting.amount_to(GUIDE.account(Bucket.PENDING)) == 951
    assert posting.amount_to(STORE.account(Bucket.PENDING)) == 317
    assert sum(e.amount_fen for e in posting.entries) == 0
    assert (posting.rule_version, posting.source_events) == (2, ("o:4",))
    assert (posting.period, event.base_fen, event.rule_version) == ("2026-11", 31_700, 2)
    assert event.facts == facts  # what it was computed from travels with it


def test_matures_only_after_the_return_window_following_delivery() -> None:
    a = accrual()
    with pytest.raises(LedgerError):
        a.mature("2026-11", NOW, "m1")
    a.record_delivery(NOW, "o:6")
    with pytest.raises(LedgerError):
        a.mature("2026-11", NOW + timedelta(days=6), "m1")
    posting = a.mature("2026-11", NOW + timedelta(days=7), "m1")
    assert posting is not None
    assert posting.amount_to(GUIDE.account(Bucket.SETTLEABLE)) == 951
    assert posting.source_events == ("o:4", "o:6")


def test_partial_returns_reverse_in_proportion_and_a_full_return_reverses_exactly() -> None:
    rates = (
        RateRule(PayeeLevel.GUIDE, 1000, category="shoes"),
        RateRule(PayeeLevel.STORE, 333, category="shoes"),
    )
    a = accrual(
        sale(SaleLine(10_000, "shoes"), SaleLine(21_700, "socks")), CommissionPolicy(rates=rates)
    )
    assert a.accrued == {GUIDE.key: 1000, STORE.key: 333}
    first = a.reverse(
        returned_fen=10_000,
        period="2026-11",
        at=NOW,
        posting_id="r1",
        source_event="o:7",
        clawback=False,
    )
    assert first is not None
    assert sum(e.amount_fen for e in first.entries) == 0
    partly = dict(a.reversed)
    assert 0 < partly[GUIDE.key] < 1000
    a.reverse(
        returned_fen=31_700,
        period="2026-11",
        at=NOW,
        posting_id="r2",
        source_event="o:8",
        clawback=False,
    )
    assert a.reversed == a.accrued
    assert (
        a.reverse(
            returned_fen=31_700,
            period="2026-11",
            at=NOW,
            posting_id="r3",
            source_event="o:9",
            clawback=False,
        )
        is None
    )


def test_a_period_closes_once_and_is_paid_exactly_once() -> None:
    period = SettlementPeriod(BRAND, GUIDE, "2026-11")
    period.add_line(StatementLine("maturity", 951, "order"))
    period.add_line(StatementLine("clawback", -51, "order"))
    posting = period.close(NOW, "s1")
    assert posting is not None
    assert period.total_fen == 900
    with pytest.raises(PeriodClosed):
        period.add_line(StatementLine("maturity", 1, "late"))
    with pytest.raises(LedgerError):
        period.pay_out(899, "B-1", NOW, "p1")
    period.pay_out(900, "B-1", NOW, "p1")
    with pytest.raises(LedgerError):
        period.pay_out(900, "B-2", NOW, "p2")


def test_periods_are_cut_in_the_brands_time_zone() -> None:
    late_evening = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Shanghai
    assert period_of(late_evening, "Asia/Shanghai", "monthly") == "2026-12"
    assert period_of(late_evening, "Asia/Shanghai", "quarterly") == "2026-Q4"
    assert period_of(late_evening, "UTC", "monthly") == "2026-11"
    assert next_period("2026-12") == "2027-01"
    assert next_period("2026-Q4") == "2027-Q1"
    assert period_end("2026-11", "Asia/Shanghai") == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert len(days_of("2026-Q1", "Asia/Shanghai")) == 90
    with pytest.raises(InvalidValue):
        next_period("2026-13")
