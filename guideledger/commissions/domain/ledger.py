"""What an order earns: the commission accrual.

`CommissionAccrual` (one per order) posts what the order earns each payee,
moves it to settleable when the return window has passed, reverses it in
proportion to returns, and moves it to new payees when the attribution is
corrected, and books it again when the rules in force for it change. Each change
to a payee's settleable balance becomes a line of their statement (`settlement`).

The accrual's events carry the `OrderFacts` it was computed from, so the audit
and the commission view compute it again from the commission log alone.
Accruals recorded before the facts were have none (`facts` is None): for them,
only the amounts recorded can be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.commissions.domain.earnings import (
    OrderFacts,
    accrual_shares,
    correction,
    reversal_targets,
)
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    CommissionPolicy,
    Entry,
    Payee,
    Posting,
    PostingKind,
    expense_account,
    expense_posting,
)
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import natural_id, require_utc


class LedgerError(RuleViolated):
    type = "ledger-rule-violated"


@dataclass(frozen=True)
class PayeeShare:
    payee: Payee
    amount_fen: int


@dataclass(frozen=True)
class StatementLine:
    """A line of a payee's statement with what it was computed from: the posting that
    moved the money, the order (if any), the rule version and the source events.
    `held`: on a store's statement, the share it holds for a guide that the line moves
    (held, returned, handed back); the guide's money, so not in the store's total."""

    kind: str
    amount_fen: int
    description: str
    posting_id: str | None = None
    order_id: UUID | None = None
    rule_version: int | None = None
    source_events: tuple[str, ...] = field(default_factory=tuple)
    held: Account | None = None
    previous_rule_version: int | None = None  # a correction's: the rules it replaced

    def __post_init__(self) -> None:
        if self.held is not None and type(self.held) is not Account:  # decoded from JSON
            object.__setattr__(self, "held", Account.parse(self.held))

    @property
    def in_total(self) -> bool:
        return self.held is None


class CommissionAccrual(Aggregate):
    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return natural_id("commission-accrual", order_id)

    @classmethod
    def accrue(
        cls,
        *,
        order_id: UUID,
        facts: OrderFacts,
        policy: CommissionPolicy,
        source_event: str,
        occurred_at: datetime,
    ) -> CommissionAccrual:
        """The paid order's commission under `policy`, pending in the period it was paid in."""
        shares = _shares(accrual_shares(facts, policy))
        posting = expense_posting(
            f"accrual:{order_id}",
            PostingKind.ACCRUAL,
            facts.brand_id,
            _pending(shares),
            period=facts.paid_period,
            occurred_at=require_utc(occurred_at),
            order_id=order_id,
            rule_version=policy.version,
            source_events=(source_event,),
        )
        return cls(
            order_id,
            facts.brand_id,
            shares,
            facts.paid_fen,
            policy.version,
            policy.return_window_days,
            source_event,
            posting,
            facts,
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
        facts: OrderFacts | None = None  # None: accrued before the facts were recorded

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
        facts: OrderFacts | None = None,
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
        self.reaccrued_by: tuple[str, ...] = ()  # the correction the payees were moved by
        self.previous_rule_version: int | None = None  # before the latest correction
        self._start(shares, facts)

    def _start(self, shares: tuple[PayeeShare, ...], facts: OrderFacts | None) -> None:
        self.facts = facts
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
                (self.paid_event, self.delivered_event or "", *self.reaccrued_by),
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
        self._record_reversed(cumulative, deltas, posting, self.facts)
        return posting

    class Reversed(Aggregate.Event):
        returned_fen: int
        deltas: dict[str, int]
        posting: Posting | None
        facts: OrderFacts | None = None  # what the reversed accrual was computed from

    @event(Reversed)
    def _record_reversed(
        self,
        returned_fen: int,
        deltas: dict[str, int],
        posting: Posting | None,
        facts: OrderFacts | None = None,
    ) -> None:
        self.returned_fen = returned_fen
        for key, delta in deltas.items():
            self.reversed[key] += delta

    def reaccrue(
        self,
        facts: OrderFacts,
        policy: CommissionPolicy,
        period: str,
        at: datetime,
        posting_id: str,
        source_event: str,
    ) -> Posting | None:
        """After an attribution correction: the new payees' shares under the accrual's own
        rules (`policy`), pro rata to what was not refunded, pending again."""
        if any(self.outstanding.values()):
            raise LedgerError("reverse the old payees before accruing the new ones")
        shares = _shares(accrual_shares(facts, policy))
        posting = expense_posting(
            posting_id,
            PostingKind.ACCRUAL,
            self.brand_id,
            _pending(shares),
            period=period,
            occurred_at=require_utc(at),
            order_id=self.order_id,
            rule_version=self.rule_version,
            source_events=(source_event,),
        )
        self._record_reaccrued(shares, posting, facts)
        return posting

    class Reaccrued(Aggregate.Event):
        shares: tuple[PayeeShare, ...]
        posting: Posting | None
        facts: OrderFacts | None = None  # None: re-accrued before the facts were recorded

    @event(Reaccrued)
    def _record_reaccrued(
        self,
        shares: tuple[PayeeShare, ...],
        posting: Posting | None,
        facts: OrderFacts | None = None,
    ) -> None:
        self._start(shares, facts)
        self.matured_period = None
        self.returned_fen = 0
        self.reaccrued_by = posting.source_events if posting else ()

    def correct(
        self,
        policy: CommissionPolicy,
        *,
        period: str,
        at: datetime,
        posting_id: str,
        source_events: tuple[str, ...],
    ) -> Posting | None:
        """Books the order again under `policy`, the rules in force when it was paid as they
        now stand (`correction`), in the bucket the commission is in; from then on it matures
        and reverses as accrued under `policy`. None, and nothing recorded, if no amount
        changes."""
        if self.facts is None:
            raise LedgerError("an accrual recorded before its facts cannot be computed again")
        shares = _shares(accrual_shares(self.facts, policy))
        accrued = {s.payee.key: s.amount_fen for s in shares}
        deltas = correction(accrued, self.outstanding, self.base_fen, self.returned_fen)
        if not deltas:
            return None
        payees = {**self.payees, **{s.payee.key: s.payee for s in shares}}
        bucket = Bucket.SETTLEABLE if self.matured else Bucket.PENDING
        posting = expense_posting(
            posting_id,
            PostingKind.CORRECTION,
            self.brand_id,
            [(payees[key].account(bucket), delta) for key, delta in deltas.items()],
            period=period,
            occurred_at=require_utc(at),
            order_id=self.order_id,
            rule_version=policy.version,
            source_events=source_events,
        )
        assert posting is not None, "a correction moves money"
        self._record_corrected(
            policy.version, self.rule_version, shares, deltas, posting, self.facts
        )
        return posting

    class Corrected(Aggregate.Event):
        rule_version: int
        previous_rule_version: int
        shares: tuple[PayeeShare, ...]  # what the accrual posts each payee under the new rules
        deltas: dict[str, int]  # per payee, the change in what they keep of the order
        posting: Posting
        facts: OrderFacts  # what the accrual was computed again from

    @event(Corrected)
    def _record_corrected(
        self,
        rule_version: int,
        previous_rule_version: int,
        shares: tuple[PayeeShare, ...],
        deltas: dict[str, int],
        posting: Posting,
        facts: OrderFacts,
    ) -> None:
        outstanding = self.outstanding
        accrued = {s.payee.key: s.amount_fen for s in shares}
        self.payees.update({s.payee.key: s.payee for s in shares})
        self.accrued = {key: accrued.get(key, 0) for key in dict.fromkeys([*accrued, *outstanding])}
        self.reversed = {
            key: amount - outstanding.get(key, 0) - deltas.get(key, 0)
            for key, amount in self.accrued.items()
        }
        self.rule_version = rule_version
        self.previous_rule_version = previous_rule_version


def _shares(amounts: Mapping[Payee, int]) -> tuple[PayeeShare, ...]:
    return tuple(PayeeShare(payee, amount) for payee, amount in amounts.items())


def _pending(shares: tuple[PayeeShare, ...]) -> list[tuple[Account, int]]:
    return [(s.payee.account(Bucket.PENDING), s.amount_fen) for s in shares]
