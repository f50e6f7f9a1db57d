"""Settlement: each payee's statement per period, and closing a brand's period.

`SettlementPeriod` (one per payee and period) collects every change to the payee's
settleable balance as a statement line; closing it once moves the total to payable,
and a payout settles the statement. `BrandPeriodClose` closes a brand's period step
by step: store-held shares handed back to their guides, the top guides' bonus, then
every payee's statement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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
    bank_account,
    expense_account,
)
from guideledger.kernel.periods import PeriodClosed
from guideledger.kernel.values import natural_id, require_text, require_utc

StatementLines = list[tuple[Payee, StatementLine]]
"""Lines for payees' statements, each with the payee whose statement gets it."""


def accrual_lines(accrual: CommissionAccrual, posting: Posting) -> StatementLines:
    """The line each payee's statement gets for an accrual's posting that moved their
    settleable balance; a guide whose share the store holds gets none (the store settles it).
    A correction's line names the rules it replaced."""
    corrected = posting.kind is PostingKind.CORRECTION
    replaced = accrual.previous_rule_version if corrected else None
    description = f"order {accrual.order_id}"
    if corrected:
        description += f": rules v{replaced} → v{accrual.rule_version}"
    lines = []
    for account, amount in posting.settleable_credits():
        payee = accrual.payees[account.owner]
        if payee.held_by_store is None:
            line = StatementLine(
                str(posting.kind),
                amount,
                description,
                posting.posting_id,
                accrual.order_id,
                accrual.rule_version,
                posting.source_events,
                replaced,
            )
            lines.append((payee, line))
    return lines


def settlement_period_id(payee_key: str, period: str) -> UUID:
    return natural_id("settlement-period", payee_key, period)


class SettlementPeriod(Aggregate):
    """One payee's settleable changes in one period; closed once, never reopened.

    The statement's lines are this aggregate's `LineAdded` events; the aggregate
    itself keeps only the running total, so it stays small however busy the payee.
    """

    @staticmethod
    def create_id(payee: Payee, period: str) -> UUID:
        return settlement_period_id(payee.key, period)

    class Opened(Aggregate.Created):
        brand_id: UUID
        payee: Payee
        period: str

    @event(Opened)
    def __init__(self, brand_id: UUID, payee: Payee, period: str) -> None:
        self.brand_id = brand_id
        self.payee = payee
        self.period = period
        self.line_count = 0
        self.running_total_fen = 0
        self.closed = False
        self.final = False
        self.total_fen = 0
        self.paid_reference: str | None = None

    def add_line(self, line: StatementLine) -> None:
        if self.closed:
            raise PeriodClosed("the period is closed", period=self.period, payee=self.payee.key)
        self._record_line(line)

    class LineAdded(Aggregate.Event):
        line: StatementLine

    @event(LineAdded)
    def _record_line(self, line: StatementLine) -> None:
        self.line_count += 1
        self.running_total_fen += line.amount_fen

    def close(self, at: datetime, posting_id: str, final: bool = False) -> Posting | None:
        """Moves the total to payable; a negative total stays to be carried forward."""
        if self.closed:
            raise PeriodClosed("the period is already closed", period=self.period)
        total = self.running_total_fen
        posting = None
        if total > 0:
            entries = (
                Entry(self.payee.account(Bucket.SETTLEABLE), total),
                Entry(self.payee.account(Bucket.PAYABLE), -total),
            )
            posting = Posting(
                posting_id,
                PostingKind.SETTLEMENT,
                self.brand_id,
                entries,
                self.period,
                require_utc(at),
            )
        self._record_closed(total, final, posting, at)
        return posting

    class Closed(Aggregate.Event):
        total_fen: int
        final: bool
        posting: Posting | None
        closed_at: datetime

    @event(Closed)
    def _record_closed(
        self, total_fen: int, final: bool, posting: Posting | None, closed_at: datetime
    ) -> None:
        self.closed = True
        self.final = final
        self.total_fen = total_fen

    def carried_forward(self) -> StatementLine | None:
        """The line a closed period's negative total brings into the payee's next period."""
        if not self.closed or self.total_fen >= 0:
            return None
        return StatementLine("brought_forward", self.total_fen, f"from {self.period}")

    def pay_out(self, amount_fen: int, reference: str, at: datetime, posting_id: str) -> Posting:
        if not self.closed:
            raise LedgerError("only a closed period's statement can be paid")
        if self.paid_reference is not None:
            raise LedgerError("the statement is already paid", reference=self.paid_reference)
        if self.total_fen <= 0 or amount_fen != self.total_fen:
            raise LedgerError("the payout must equal the statement total", total_fen=self.total_fen)
        entries = (
            Entry(self.payee.account(Bucket.PAYABLE), amount_fen),
            Entry(bank_account(self.brand_id), -amount_fen),
        )
        posting = Posting(
            posting_id, PostingKind.PAYOUT, self.brand_id, entries, self.period, require_utc(at)
        )
        self._record_paid(require_text("reference", reference, 100), posting)
        return posting

    class PaidOut(Aggregate.Event):
        reference: str
        posting: Posting

    @event(PaidOut)
    def _record_paid(self, reference: str, posting: Posting) -> None:
        self.paid_reference = reference


class BrandPeriodClose(Aggregate):
    """Closing a brand's period, step by step, so a re-run never posts anything twice."""

    @staticmethod
    def create_id(brand_id: UUID, period: str) -> UUID:
        return natural_id("brand-period-close", brand_id, period)

    class Started(Aggregate.Created):
        brand_id: UUID
        period: str

    @event(Started)
    def __init__(self, brand_id: UUID, period: str) -> None:
        self.brand_id = brand_id
        self.period = period
        self.handed_back = False
        self.bonuses_paid = False
        self.finished = False

    def hand_back(self, balances: Iterable[tuple[Account, int]], at: datetime) -> StatementLines:
        """Store-account guide shares go from the store back to the guide: not a cent less.

        `balances` are the brand's accounts with their balances as the ledger holds them
        (credits negative): every store's settleable share held for a guide goes back
        whole. Returns each guide's statement line."""
        if self.handed_back:
            raise LedgerError("the handbacks are already posted")
        postings, lines = [], []
        for account, balance in balances:
            if account.bucket is not Bucket.HELD or balance >= 0:
                continue
            assert account.held_for is not None, "a held bucket names its guide"
            guide, amount = Payee(PayeeLevel.GUIDE, account.held_for), -balance
            posting = Posting(
                f"handback:{self.id}:{account}",
                PostingKind.HANDBACK,
                self.brand_id,
                (Entry(account, amount), Entry(guide.account(Bucket.SETTLEABLE), -amount)),
                self.period,
                require_utc(at),
            )
            postings.append(posting)
            description = f"handed back from {account.owner}"
            lines.append(
                (guide, StatementLine("handback", amount, description, posting.posting_id))
            )
        self._record_handbacks(tuple(postings))
        return lines

    class HandbacksPosted(Aggregate.Event):
        postings: tuple[Posting, ...]

    @event(HandbacksPosted)
    def _record_handbacks(self, postings: tuple[Posting, ...]) -> None:
        self.handed_back = True

    def pay_bonuses(
        self, winners: Sequence[UUID], policy: CommissionPolicy, at: datetime
    ) -> StatementLines:
        """Each of the top guides (`winners`, best first) earns the policy's bonus, booked
        as commission expense. Returns each guide's statement line."""
        if self.bonuses_paid:
            raise LedgerError("the bonuses are already posted")
        postings, lines = [], []
        amount = policy.top_guide_bonus_fen
        for rank, guide_id in enumerate(winners if amount else (), start=1):
            guide = Payee(PayeeLevel.GUIDE, guide_id)
            posting = Posting(
                f"bonus:{self.id}:{guide_id}",
                PostingKind.BONUS,
                self.brand_id,
                (
                    Entry(expense_account(self.brand_id), amount),
                    Entry(guide.account(Bucket.SETTLEABLE), -amount),
                ),
                self.period,
                require_utc(at),
                rule_version=policy.version,
            )
            postings.append(posting)
            line = StatementLine(
                "bonus",
                amount,
                f"top {policy.top_guide_percent}% bonus, rank {rank}",
                posting.posting_id,
                rule_version=policy.version,
            )
            lines.append((guide, line))
        self._record_bonuses(tuple(postings))
        return lines

    class BonusesPosted(Aggregate.Event):
        postings: tuple[Posting, ...]

    @event(BonusesPosted)
    def _record_bonuses(self, postings: tuple[Posting, ...]) -> None:
        self.bonuses_paid = True

    def finish(self, at: datetime) -> None:
        if self.finished:
            raise PeriodClosed("the period is already closed", period=self.period)
        self._record_finished(require_utc(at))

    class Finished(Aggregate.Event):
        closed_at: datetime

    @event(Finished)
    def _record_finished(self, closed_at: datetime) -> None:
        self.finished = True


def top_guides(net_sales: Mapping[UUID, int], percent: int) -> list[UUID]:
    """The top `percent` of the guides with net sales, best first; the count is rounded up,
    and equal sales rank by guide id, so the same sales always give the same winners."""
    ranked = sorted(
        (guide for guide, fen in net_sales.items() if fen > 0),
        key=lambda guide: (-net_sales[guide], str(guide)),
    )
    return ranked[: math.ceil(len(ranked) * percent / 100)]
