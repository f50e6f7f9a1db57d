"""Settlement: each payee's statement per period, and closing a brand's period.

`SettlementPeriod` (one per payee and period) collects every change to the payee's
settleable balance as a statement line; closing it once moves the total to payable,
and a payout settles the statement. `BrandPeriodClose` closes a brand's period step
by step: store-held shares handed back to their guides, the top guides' bonus, then
every payee's statement.

A store's statement also shows the shares it holds for guides named on store-account
orders, order by order: each held line as the share matures (or comes back on a
return), then a line for each hand-back; these are the guides' money, not in the
store's total. The hand-back at close is one per order: the held lines of that order
not handed back yet, named as its source events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    settleable balance; a guide's share a store holds is a line `held` of the store's
    statement. A correction's line names the rules it replaced."""
    corrected = posting.kind is PostingKind.CORRECTION
    replaced = accrual.previous_rule_version if corrected else None
    lines = []
    for account, amount in posting.settleable_credits() + posting.held_credits():
        held = account if account.bucket is Bucket.HELD else None
        payee = accrual.payees.get(account.owner) or Payee.of_key(account.owner)
        line = StatementLine(
            str(posting.kind),
            amount,
            _description(accrual, payee, posting.kind, held, replaced),
            posting.posting_id,
            accrual.order_id,
            accrual.rule_version,
            posting.source_events,
            held=held,
            previous_rule_version=replaced,
        )
        lines.append((payee, line))
    return lines


def _description(
    accrual: CommissionAccrual,
    payee: Payee,
    kind: PostingKind,
    held: Account | None,
    replaced: int | None,
) -> str:
    """The order; the rules a correction replaced, a clawback's period, a fee for a branch
    that only shipped the sale, the guide a held share is for."""
    description = f"order {accrual.order_id}"
    if replaced is not None:
        description += f": rules v{replaced} → v{accrual.rule_version}"
    if kind is PostingKind.CLAWBACK:
        description += f", clawed back from {accrual.matured_period}"
    elif accrual.facts is not None and payee.key not in {p.key for p in accrual.facts.payees}:
        description += ", fulfilment fee for shipping it"
    return description if held is None else f"{description}, held for guide {held.held_for}"


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
        if line.in_total:
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
        """The line a closed period's negative total brings into the payee's next period,
        naming the close it comes from (this statement's last event)."""
        if not self.closed or self.total_fen >= 0:
            return None
        closed_event = f"{self.id}:{self.version}"
        return StatementLine(
            "brought_forward", self.total_fen, f"from {self.period}", source_events=(closed_event,)
        )

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

    def hand_back(self, shares: Iterable[HeldShare], at: datetime) -> StatementLines:
        """Store-account guide shares go from the store back to the guide: not a cent less.

        One posting per held share (`held_shares`): the guide's statement gets a line, and
        the store's a line `held` taking it off what it holds, each naming the order, its
        rule version and the held lines handed back. A share that came to nothing (held,
        then all returned) gets only the store's line, of zero, so its held lines are
        settled too. Returns the lines."""
        if self.handed_back:
            raise LedgerError("the handbacks are already posted")
        postings, lines = [], []
        for share in shares:
            posting = self._handback_posting(share, at)
            guide_line, store_line = share.lines_for(posting)
            if posting is not None:
                postings.append(posting)
                lines.append((share.guide, guide_line))
            lines.append((share.store, store_line))
        self._record_handbacks(tuple(postings))
        return lines

    def _handback_posting(self, share: HeldShare, at: datetime) -> Posting | None:
        if not share.amount_fen:
            return None
        posting_id = f"handback:{self.id}:{share.account}"
        return Posting(
            posting_id if share.order_id is None else f"{posting_id}:{share.order_id}",
            PostingKind.HANDBACK,
            self.brand_id,
            (
                Entry(share.account, share.amount_fen),
                Entry(share.guide.account(Bucket.SETTLEABLE), -share.amount_fen),
            ),
            self.period,
            require_utc(at),
            share.order_id,
            share.rule_version,
            share.held_lines,
        )

    class HandbacksPosted(Aggregate.Event):
        postings: tuple[Posting, ...]

    @event(HandbacksPosted)
    def _record_handbacks(self, postings: tuple[Posting, ...]) -> None:
        self.handed_back = True

    def pay_bonuses(
        self, net_sales: Mapping[UUID, int], policy: CommissionPolicy, at: datetime
    ) -> StatementLines:
        """The top guides by the period's net sales (`top_guides`) each earn the policy's
        bonus, booked as commission expense. Each line names the rule version, the rank and
        the net sales it was ranked by. Returns the lines."""
        if self.bonuses_paid:
            raise LedgerError("the bonuses are already posted")
        postings, lines = [], []
        amount = policy.top_guide_bonus_fen
        ranked = sum(1 for fen in net_sales.values() if fen > 0)
        winners = top_guides(net_sales, policy.top_guide_percent) if amount else []
        for rank, guide_id in enumerate(winners, start=1):
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
            description = (
                f"top {policy.top_guide_percent}% bonus, rank {rank} of {ranked} guides"
                f" by net sales: {net_sales[guide_id]} fen in {self.period}"
            )
            line = StatementLine(
                "bonus", amount, description, posting.posting_id, rule_version=policy.version
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


@dataclass(frozen=True)
class HeldLine:
    """A line of a store's statement holding a guide's share, not handed back yet."""

    event_id: str  # the line's `LineAdded` event
    account: Account  # the store's holding for the guide
    order_id: UUID | None
    amount_fen: int
    rule_version: int | None


@dataclass(frozen=True)
class HeldShare:
    """What a store holds for a guide on one order: the sum of its held lines (negative
    when a clawback came after the share was handed back). With no order, what the store
    held before its statements showed held lines: it is handed back as one amount."""

    account: Account
    amount_fen: int
    order_id: UUID | None = None
    rule_version: int | None = None
    held_lines: tuple[str, ...] = ()

    @property
    def guide(self) -> Payee:
        assert self.account.held_for is not None, "a held account names its guide"
        return Payee(PayeeLevel.GUIDE, self.account.held_for)

    @property
    def store(self) -> Payee:
        return Payee(PayeeLevel.STORE, self.account.owner_id)

    def lines_for(self, posting: Posting | None) -> tuple[StatementLine, StatementLine]:
        """The guide's line and the store's for the share handed back by `posting`."""
        what = f"order {self.order_id}" if self.order_id else "held before statements showed it"
        posting_id = posting.posting_id if posting else None

        def line(amount_fen: int, description: str, held: Account | None) -> StatementLine:
            return StatementLine(
                str(PostingKind.HANDBACK),
                amount_fen,
                description,
                posting_id,
                self.order_id,
                self.rule_version,
                self.held_lines,
                held,
            )

        return (
            line(self.amount_fen, f"{what}, handed back by {self.store.key}", None),
            line(-self.amount_fen, f"{what}, handed back to {self.guide.key}", self.account),
        )


def held_shares(balances: Mapping[Account, int], lines: Iterable[HeldLine]) -> list[HeldShare]:
    """What each store holds for each guide, order by order, from the held lines not handed
    back yet; and, per held account, what its balance (credits negative, as the ledger
    keeps it) holds beyond those lines: shares held before stores' statements showed them.
    Together, every held account's whole balance. Ordered by account and order."""
    by_order: dict[tuple[Account, UUID | None], list[HeldLine]] = {}
    for line in lines:
        by_order.setdefault((line.account, line.order_id), []).append(line)
    shares = [
        HeldShare(
            account,
            sum(line.amount_fen for line in held),
            order_id,
            held[0].rule_version,
            tuple(sorted((line.event_id for line in held), key=_aggregate_and_version)),
        )
        for (account, order_id), held in by_order.items()
    ]
    lined: dict[Account, int] = {}
    for share in shares:
        lined[share.account] = lined.get(share.account, 0) + share.amount_fen
    for account, balance in balances.items():
        beyond = -balance - lined.get(account, 0)
        if account.bucket is Bucket.HELD and beyond:
            shares.append(HeldShare(account, beyond))
    return sorted(shares, key=lambda share: (share.account, str(share.order_id or "")))


def _aggregate_and_version(event_id: str) -> tuple[str, int]:
    aggregate_id, _, version = event_id.rpartition(":")
    return aggregate_id, int(version)
