"""What an order earns: the commission accrual.

`CommissionAccrual` (one per order) posts what the order earns each payee,
moves it to settleable when the return window has passed, reverses it in
proportion to returns, and moves it to new payees when the attribution is
corrected. Each change to a payee's settleable balance becomes a line of their
statement (`settlement`).

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

from guideledger.commissions.domain.earnings import OrderFacts, accrual_shares
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    CommissionPolicy,
    Entry,
    Payee,
    Posting,
    PostingKind,
    expense_account,
)
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.money import divide_half_up, split
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
        posting = _accrual_posting(
            order_id,
            facts.brand_id,
            shares,
            policy.version,
            facts.paid_period,
            source_event,
            occurred_at,
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

    def statement_lines(self, posting: Posting) -> list[tuple[Payee, StatementLine]]:
        """The line each payee's statement gets for a posting that moved their settleable
        balance; a guide's share a store holds is a line `held` of the store's statement."""
        lines = []
        for account, amount in posting.settleable_credits() + posting.held_credits():
            held = account if account.bucket is Bucket.HELD else None
            payee = self.payees.get(account.owner) or Payee.of_key(account.owner)
            line = StatementLine(
                str(posting.kind),
                amount,
                self._description(payee, posting.kind, held),
                posting.posting_id,
                self.order_id,
                self.rule_version,
                posting.source_events,
                held,
            )
            lines.append((payee, line))
        return lines

    def _description(self, payee: Payee, kind: PostingKind, held: Account | None) -> str:
        """The order; a clawback's period, a fee for a branch that only shipped the sale."""
        description = f"order {self.order_id}"
        if kind is PostingKind.CLAWBACK:
            description += f", clawed back from {self.matured_period}"
        elif self.facts is not None and payee.key not in {p.key for p in self.facts.payees}:
            description += ", fulfilment fee for shipping it"
        return description if held is None else f"{description}, held for guide {held.held_for}"

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


def reversal_targets(
    accrued: Mapping[str, int], base_fen: int, returned_fen: int
) -> dict[str, int]:
    """What each payee gives back once `returned_fen` of `base_fen` came back: the whole
    reversal rounded half up once, split by largest remainder; everything on a full return."""
    if returned_fen >= base_fen:
        return dict(accrued)
    total = divide_half_up(sum(accrued.values()) * returned_fen, base_fen)  # base > returned ≥ 0
    return dict(zip(accrued, split(total, list(accrued.values())), strict=True))


def net_of_returns(accrued: Mapping[str, int], base_fen: int, returned_fen: int) -> dict[str, int]:
    """What each payee keeps of an accrual once `returned_fen` of `base_fen` came back."""
    given_back = reversal_targets(accrued, base_fen, returned_fen)
    return {payee: amount - given_back[payee] for payee, amount in accrued.items()}


def _shares(amounts: Mapping[Payee, int]) -> tuple[PayeeShare, ...]:
    return tuple(PayeeShare(payee, amount) for payee, amount in amounts.items())


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
