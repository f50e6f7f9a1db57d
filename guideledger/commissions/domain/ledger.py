"""The commission ledger's aggregates.

`CommissionAccrual` (one per order) posts what the order earns each payee,
moves it to settleable when the return window has passed, and reverses it in
proportion to returns. `SettlementPeriod` (one per payee and period) collects
every change to the payee's settleable balance as a statement line; closing it
once moves the total to payable, and a payout settles the statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.commissions.domain.rules import (
    Bucket,
    Entry,
    Payee,
    Posting,
    PostingKind,
    bank_account,
    expense_account,
)
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.money import divide_half_up, split
from guideledger.kernel.periods import PeriodClosed
from guideledger.kernel.values import natural_id, require_text, require_utc


class LedgerError(RuleViolated):
    type = "ledger-rule-violated"


@dataclass(frozen=True)
class PayeeShare:
    payee: Payee
    amount_fen: int


@dataclass(frozen=True)
class StatementLine:
    kind: str
    amount_fen: int
    description: str
    posting_id: str | None = None
    order_id: UUID | None = None
    rule_version: int | None = None
    source_events: tuple[str, ...] = field(default_factory=tuple)


class CommissionAccrual(Aggregate):
    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return natural_id("commission-accrual", order_id)

    @classmethod
    def accrue(
        cls,
        *,
        order_id: UUID,
        brand_id: UUID,
        earned: Mapping[Payee, int],
        base_fen: int,
        rule_version: int,
        return_window_days: int,
        period: str,
        source_event: str,
        occurred_at: datetime,
    ) -> CommissionAccrual:
        shares = tuple(PayeeShare(p, a) for p, a in earned.items())
        posting = _accrual_posting(
            order_id, brand_id, shares, rule_version, period, source_event, occurred_at
        )
        return cls(
            order_id,
            brand_id,
            shares,
            base_fen,
            rule_version,
            return_window_days,
            source_event,
            posting,
        )

    class Accrued(Aggregate.Created):
        order_id: UUID
        brand_id: UUID
        shares: tuple[PayeeShare, ...]
        base_fen: int
        rule_version: int
        return_window_days: int
        paid_event: str
        posting: Posting | None

    @event(Accrued)
    def __init__(
        self,
        order_id: UUID,
        brand_id: UUID,
        shares: tuple[PayeeShare, ...],
        base_fen: int,
        rule_version: int,
        return_window_days: int,
        paid_event: str,
        posting: Posting | None,
    ) -> None:
        self.order_id = order_id
        self.paid_event = paid_event
        self.delivered_event: str | None = None
        self.brand_id = brand_id
        self.base_fen = base_fen
        self.rule_version = rule_version
        self.return_window = timedelta(days=return_window_days)
        self.delivered_at: datetime | None = None
        self.matured_period: str | None = None
        self.returned_fen = 0
        self._start(shares)

    def _start(self, shares: tuple[PayeeShare, ...]) -> None:
        self.payees = {s.payee.key: s.payee for s in shares}
        self.accrued = {s.payee.key: s.amount_fen for s in shares}
        self.reversed = dict.fromkeys(self.accrued, 0)

    @property
    def outstanding(self) -> dict[str, int]:
        return {k: self.accrued[k] - self.reversed[k] for k in self.accrued}

    @property
    def due_at(self) -> datetime | None:
        return None if self.delivered_at is None else self.delivered_at + self.return_window

    @property
    def matured(self) -> bool:
        return self.matured_period is not None

    def record_delivery(self, delivered_at: datetime, delivered_event: str) -> None:
        if self.delivered_at is None:
            self._record_delivered(require_utc(delivered_at), delivered_event)

    class DeliveryRecorded(Aggregate.Event):
        delivered_at: datetime
        delivered_event: str

    @event(DeliveryRecorded)
    def _record_delivered(self, delivered_at: datetime, delivered_event: str) -> None:
        self.delivered_at = delivered_at
        self.delivered_event = delivered_event

    def mature(self, period: str, at: datetime, posting_id: str) -> Posting | None:
        """Pending becomes settleable once the return window after delivery has passed."""
        if self.matured:
            raise LedgerError("the commission has already matured")
        if self.due_at is None or at < self.due_at:
            raise LedgerError("the return window has not passed")
        entries = []
        for key, amount in self.outstanding.items():
            if amount:
                payee = self.payees[key]
                entries += [
                    Entry(payee.account(Bucket.PENDING), amount),
                    Entry(payee.account(Bucket.SETTLEABLE), -amount),
                ]
        posting = (
            Posting(
                posting_id,
                PostingKind.MATURITY,
                self.brand_id,
                tuple(entries),
                period,
                require_utc(at),
                self.order_id,
                self.rule_version,
                (self.paid_event, self.delivered_event or ""),
            )
            if entries
            else None
        )
        self._record_matured(period, posting)
        return posting

    class Matured(Aggregate.Event):
        period: str
        posting: Posting | None

    @event(Matured)
    def _record_matured(self, period: str, posting: Posting | None) -> None:
        self.matured_period = period

    def statement_lines(self, posting: Posting) -> list[tuple[Payee, StatementLine]]:
        """The line each payee's statement gets for a posting that moved their settleable
        balance; a guide whose share the store holds gets none (the store settles it)."""
        lines = []
        for payee in self.payees.values():
            amount = posting.amount_to(payee.account(Bucket.SETTLEABLE))
            if amount and payee.held_by_store is None:
                line = StatementLine(
                    str(posting.kind),
                    amount,
                    f"order {self.order_id}",
                    posting.posting_id,
                    self.order_id,
                    self.rule_version,
                    posting.source_events,
                )
                lines.append((payee, line))
        return lines

    def reverse(
        self,
        *,
        returned_fen: int | None,
        period: str,
        at: datetime,
        posting_id: str,
        source_event: str,
        clawback: bool,
    ) -> Posting | None:
        """Reverses in proportion to the cumulative `returned_fen`, or everything if None.

        Cumulative targets make the last return reverse exactly what is left, so
        a full return or cancel always brings every payee back to zero.
        """
        cumulative = self.base_fen if returned_fen is None else min(returned_fen, self.base_fen)
        targets = reversal_targets(self.accrued, self.base_fen, cumulative)
        deltas = {k: max(0, targets[k] - self.reversed[k]) for k in self.accrued}
        bucket = Bucket.SETTLEABLE if self.matured else Bucket.PENDING
        entries = [Entry(self.payees[k].account(bucket), d) for k, d in deltas.items() if d]
        posting = None
        if entries:
            entries.append(Entry(expense_account(self.brand_id), -sum(deltas.values())))
            kind = PostingKind.CLAWBACK if clawback else PostingKind.REVERSAL
            posting = Posting(
                posting_id,
                kind,
                self.brand_id,
                tuple(entries),
                period,
                require_utc(at),
                self.order_id,
                self.rule_version,
                (source_event,),
            )
        self._record_reversed(cumulative, deltas, posting)
        return posting

    class Reversed(Aggregate.Event):
        returned_fen: int
        deltas: dict[str, int]
        posting: Posting | None

    @event(Reversed)
    def _record_reversed(
        self, returned_fen: int, deltas: dict[str, int], posting: Posting | None
    ) -> None:
        self.returned_fen = returned_fen
        for key, delta in deltas.items():
            self.reversed[key] += delta

    def reaccrue(
        self,
        earned: Mapping[Payee, int],
        period: str,
        at: datetime,
        posting_id: str,
        source_event: str,
    ) -> Posting | None:
        """After an attribution correction: the new payees' shares, pending again."""
        if any(self.outstanding.values()):
            raise LedgerError("reverse the old payees before accruing the new ones")
        shares = tuple(PayeeShare(p, a) for p, a in earned.items())
        posting = _accrual_posting(
            self.order_id,
            self.brand_id,
            shares,
            self.rule_version,
            period,
            source_event,
            at,
            posting_id=posting_id,
        )
        self._record_reaccrued(shares, posting)
        return posting

    class Reaccrued(Aggregate.Event):
        shares: tuple[PayeeShare, ...]
        posting: Posting | None

    @event(Reaccrued)
    def _record_reaccrued(self, shares: tuple[PayeeShare, ...], posting: Posting | None) -> None:
        self._start(shares)
        self.matured_period = None
        self.returned_fen = 0


def reversal_targets(
    accrued: Mapping[str, int], base_fen: int, returned_fen: int
) -> dict[str, int]:
    """What each payee gives back once `returned_fen` of `base_fen` came back: the whole
    reversal rounded half up once, split by largest remainder; everything on a full return."""
    if returned_fen >= base_fen:
        return dict(accrued)
    total = divide_half_up(sum(accrued.values()) * returned_fen, base_fen)  # base > returned ≥ 0
    return dict(zip(accrued, split(total, list(accrued.values())), strict=True))


def _accrual_posting(
    order_id: UUID,
    brand_id: UUID,
    shares: tuple[PayeeShare, ...],
    rule_version: int,
    period: str,
    source_event: str,
    occurred_at: datetime,
    posting_id: str | None = None,
) -> Posting | None:
    entries = [
        Entry(s.payee.account(Bucket.PENDING), -s.amount_fen) for s in shares if s.amount_fen
    ]
    if not entries:
        return None
    entries.insert(0, Entry(expense_account(brand_id), sum(s.amount_fen for s in shares)))
    return Posting(
        posting_id or f"accrual:{order_id}",
        PostingKind.ACCRUAL,
        brand_id,
        tuple(entries),
        period,
        require_utc(occurred_at),
        order_id,
        rule_version,
        (source_event,),
    )


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

    def post_handbacks(self, postings: tuple[Posting, ...]) -> None:
        """Store-account guide shares go from the store back to the guide: not a cent less."""
        if self.handed_back:
            raise LedgerError("the handbacks are already posted")
        self._record_handbacks(postings)

    class HandbacksPosted(Aggregate.Event):
        postings: tuple[Posting, ...]

    @event(HandbacksPosted)
    def _record_handbacks(self, postings: tuple[Posting, ...]) -> None:
        self.handed_back = True

    def post_bonuses(self, postings: tuple[Posting, ...]) -> None:
        if self.bonuses_paid:
            raise LedgerError("the bonuses are already posted")
        self._record_bonuses(postings)

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
