"""A change of a brand's commission rules, read and booked.

Before it is booked, the change is read as the rules would stand (the versions published
and a proposal, checked as publishing it would be); finance sees what it does in a
candidate commission view. Booking it publishes the proposal, if any, and books every
order whose amount changes again under the version in force when it was paid: each payee
gets the difference as a correction in the order's period if still open, else in the next
open one (a closed period never changes), all in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from guideledger.commissions.application.base import COMMISSION, CommissionsBase
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rule_change import RuleChange
from guideledger.commissions.domain.rules import DEFAULT_COMMISSION_POLICY, CommissionPolicy
from guideledger.commissions.domain.settlement import SettlementPeriod, accrual_lines
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.kernel.errors import Conflict
from guideledger.kernel.policies import PolicyBook
from guideledger.organisation.domain.brand import Brand


class RuleChanges(CommissionsBase):
    def rule_change(self, brand_id: UUID, draft: CommissionPolicy | None) -> RuleChange:
        """The brand's rules as they would stand with `draft` published now (None: as they
        are published); refused as publishing the draft would be."""
        self.organisation.fact(Brand, brand_id, "brand_id")
        book = self._book(brand_id)
        published = tuple(book.policies)
        if draft is None:
            return RuleChange(brand_id, published)
        now = self.clock.now()
        reaches_back = draft.effective_from < now
        if reaches_back:
            self.check_reach(brand_id, draft.effective_from, now)
        return RuleChange(brand_id, published, book.admit(draft, now, reaches_back))

    def _book(self, brand_id: UUID) -> PolicyBook:
        book_id = PolicyBook.create_id(brand_id, COMMISSION)
        return self.find(PolicyBook, book_id) or PolicyBook(brand_id, COMMISSION)

    def book_rule_change(
        self, command: Command, change: RuleChange, order_ids: Sequence[UUID]
    ) -> CommandResult:
        """Publishes the change's proposal, if any, and books each of the orders again under
        the rules in force when it was paid. Refused if the brand's rules are no longer
        those the change was read under: what finance saw would not be what is booked.
        The result is the brand's commission rules book and its version."""

        def decide() -> Decision:
            book = self._book(change.brand_id)
            if tuple(book.policies) != change.published:
                raise Conflict(
                    "the brand's commission rules changed since the candidate was built: "
                    "discard it and rebuild"
                )
            now = self.clock.now()
            touched: list[Any] = []
            if change.proposal is not None:
                self._publish(book, change.proposal, now, command.actor)
                touched.append(book)
            statements: dict[UUID, SettlementPeriod] = {}
            for order_id in order_ids:
                touched += self._correct(book, order_id, now, statements)
            version = book.version if book.policies else 0
            return [*touched, *statements.values()], CommandResult(book.id, version)

        return self.execute(command, decide)

    def _publish(
        self, book: PolicyBook, proposal: CommissionPolicy, now: datetime, actor: str
    ) -> None:
        """The proposal as previewed: from the instant it was proposed to take effect."""
        reaches_back = proposal.effective_from < now
        if reaches_back:
            self.check_reach(book.brand_id, proposal.effective_from, now)
        book.publish(proposal, now, actor, reaches_back)

    def _correct(
        self,
        book: PolicyBook,
        order_id: UUID,
        now: datetime,
        statements: dict[UUID, SettlementPeriod],
    ) -> list[CommissionAccrual]:
        """The order's accrual booked again under the rules in force when it was paid, its
        statement lines added to `statements`; nothing if no amount changes."""
        accrual = self.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
        facts = accrual.facts
        if facts is None or facts.paid_at is None:
            return []  # nothing to compute it from: it stands as recorded
        policy = book.in_force(facts.paid_at, DEFAULT_COMMISSION_POLICY)
        period = self.first_open_period(accrual.brand_id, facts.paid_period)
        sources = (accrual.paid_event, book.publication(policy.version))
        posting = accrual.correct(
            policy,
            period=period,
            at=now,
            posting_id=f"correction:{accrual.id}:{accrual.version + 1}",
            source_events=tuple(source for source in sources if source),
        )
        if posting is None:
            return []
        self._add_lines(accrual.brand_id, period, accrual_lines(accrual, posting), statements)
        return [accrual]
