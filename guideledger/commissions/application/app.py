"""The commission context: a double-entry ledger of what guides, stores, districts,
regions and branches earn, settled per month or quarter into statements.

Order facts reach it through `CommissionProcess` (paid → accrue, delivered →
start the return window, returned or cancelled → reverse, attribution
corrected → move to the new payees). Maturing and closing are commands run
for an instant, by a scheduler or the CLI.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from guideledger.attribution.domain.rules import Attribution, AttributionChannel
from guideledger.commissions.application.views import (
    COMMISSIONS_DUE,
    LEDGER_BALANCES,
    SETTLEMENT_PERIODS,
    CommissionsDue,
    LedgerBalances,
    SettlementPeriods,
)
from guideledger.commissions.domain.ledger import (
    BrandPeriodClose,
    CommissionAccrual,
    PayeeShare,
    SettlementPeriod,
    StatementLine,
    settlement_period_id,
)
from guideledger.commissions.domain.rules import (
    DEFAULT_COMMISSION_POLICY,
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
from guideledger.eventstore.application import Clock, LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.eventstore.topics import topics_of
from guideledger.kernel.errors import InvalidValue, NotFound, RuleViolated
from guideledger.kernel.money import at_rate, divide_half_up
from guideledger.kernel.periods import days_of, period_end, period_start
from guideledger.kernel.policies import PolicyBook
from guideledger.orders.application.sales import GUIDE_SALES_BY_DAY, SalesByDay
from guideledger.orders.domain.order import Order
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import policy_in_force, publish, published
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.readmodels.model import ReadModels

COMMISSION = "commission"  # the policy book's kind
LEDGER_ACTOR = "system:ledger"


class CommissionApplication(LedgerApplication):
    name = "commissions"
    value_types = (
        Payee,
        PayeeShare,
        Posting,
        Entry,
        StatementLine,
        CommissionPolicy,
        RateRule,
    )
    snapshotting_intervals = {SettlementPeriod: 200}  # noqa: RUF012  (the library's shape)

    def __init__(
        self,
        clock: Clock,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(clock, env)
        self.organisation = organisation
        self.read_models = read_models

    # --- rules -------------------------------------------------------------------------

    def policy_in_force(self, brand_id: UUID, at: datetime) -> CommissionPolicy:
        return policy_in_force(self.repository, brand_id, COMMISSION, at, DEFAULT_COMMISSION_POLICY)

    def publish_policy(
        self, command: Command, brand_id: UUID, draft: CommissionPolicy
    ) -> CommandResult:
        return publish(self, self.organisation, command, brand_id, COMMISSION, draft)

    def policy_version(self, brand_id: UUID, version: int, at: datetime) -> CommissionPolicy:
        """The brand's published version `version`; the one in force at `at` if it has none."""
        found = [p for p in self.policies(brand_id) if p.version == version]
        return found[0] if found else self.policy_in_force(brand_id, at)

    def policies(self, brand_id: UUID) -> list[CommissionPolicy]:
        return published(self.repository, brand_id, COMMISSION)

    def highest_rules_version(self) -> int:
        """The highest commission rules version any brand has published (0: none has)."""
        topics = topics_of(PolicyBook.Published)
        highest, position = 0, 0
        while batch := self.recorder.select_notifications(
            start=position, limit=500, topics=topics, inclusive_of_start=False
        ):
            for notification in batch:
                published: Any = self.mapper.to_domain_event(notification)
                highest = max(highest, published.policy.version)
            position = batch[-1].id
        return highest

    # --- order facts ------------------------------------------------------------------------

    def accrue(self, order: Order, source_event: str) -> None:
        """The order was paid: each payee's commission is accrued as pending."""

        def decide() -> Decision:
            accrual_id = CommissionAccrual.create_id(order.id)
            if self.exists(CommissionAccrual, accrual_id):
                return [], CommandResult(accrual_id, 0)
            assert order.paid_at is not None, "accrued only once paid"
            assert order.attribution is not None, "every placed order is attributed"
            policy = self.policy_in_force(order.brand_id, order.paid_at)
            earned = self.earned(order, order.attribution, policy)
            accrual = CommissionAccrual.accrue(
                order_id=order.id,
                brand_id=order.brand_id,
                earned=earned,
                base_fen=order.paid_fen,
                rule_version=policy.version,
                return_window_days=policy.return_window_days,
                period=self.period_of(order.brand_id, order.paid_at),
                source_event=source_event,
                occurred_at=order.paid_at,
            )
            return [accrual], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def earned(
        self, order: Order, attribution: Attribution, policy: CommissionPolicy
    ) -> dict[Payee, int]:
        """What each payee earns on the order under `policy`, fulfilment fees included."""
        lines = [
            SaleLine(line.amount_fen, self.organisation.fact(Sku, line.sku_id, "sku_id").category)
            for line in order.lines
        ]
        earned = commissions(lines, str(attribution.channel), _payees(attribution), policy)
        for allocation in order.allocations:
            if not order.is_cross_branch(allocation):
                continue
            shipped_value = sum(
                order.line(line.line_no).unit_price_fen * line.quantity for line in allocation.lines
            )
            fee = at_rate(shipped_value, policy.fulfilment_fee_bp)
            if fee:
                shipper = Payee(PayeeLevel.BRANCH, allocation.branch_id)
                earned[shipper] = earned.get(shipper, 0) + fee
        return earned

    def record_delivery(self, order: Order, source_event: str) -> None:
        """The return window starts when the order's last parcel arrives."""
        delivered_at = order.delivered_at
        if delivered_at is None:
            return

        def decide() -> Decision:
            accrual = self.find(CommissionAccrual, CommissionAccrual.create_id(order.id))
            if accrual is None:
                return [], CommandResult(order.id, 0)
            accrual.record_delivery(delivered_at, source_event)
            return [accrual], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def reverse(self, order: Order, source_event: str, everything: bool) -> None:
        """Units came back (or the order was cancelled): reverse in proportion."""

        def decide() -> Decision:
            accrual = self.find(CommissionAccrual, CommissionAccrual.create_id(order.id))
            if accrual is None:
                return [], CommandResult(order.id, 0)
            now = self.clock.now()
            posting_id = f"reversal:{accrual.id}:{accrual.version + 1}"
            posting = accrual.reverse(
                returned_fen=None if everything else order.returned_fen,
                period=self.period_of(accrual.brand_id, now),
                at=now,
                posting_id=posting_id,
                source_event=source_event,
                clawback=self._maturity_period_closed(accrual),
            )
            periods = self._statement_lines(accrual, posting, now)
            return [accrual, *periods], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def move_to_new_payees(self, order: Order, source_event: str) -> None:
        """The attribution was corrected: the old payees give back, the new ones earn."""
        self.reverse(order, source_event, everything=True)

        def decide() -> Decision:
            accrual = self.load(CommissionAccrual, CommissionAccrual.create_id(order.id))
            assert order.attribution is not None
            was_matured = accrual.matured
            now = self.clock.now()
            period = self.period_of(accrual.brand_id, now)
            policy = self.recorded_rules(accrual.brand_id, accrual.rule_version)
            earned = self.earned(order, order.attribution, policy)
            remaining = order.paid_fen - order.refunded_fen
            if order.paid_fen and remaining < order.paid_fen:
                earned = {
                    p: divide_half_up(a * remaining, order.paid_fen) for p, a in earned.items()
                }
            accrual.reaccrue(
                earned, period, now, f"accrual:{accrual.id}:{accrual.version + 1}", source_event
            )
            touched: list[Any] = [accrual]
            if was_matured:
                posting = accrual.mature(
                    period, now, f"maturity:{accrual.id}:{accrual.version + 1}"
                )
                touched += self._statement_lines(accrual, posting, now)
            return touched, CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def recorded_rules(self, brand_id: UUID, version: int) -> CommissionPolicy:
        """The rules a posting records by version (0: the defaults)."""
        versions = [p for p in self.policies(brand_id) if p.version == version]
        return versions[0] if versions else DEFAULT_COMMISSION_POLICY

    # --- maturing, closing, paying ----------------------------------------------------------

    def mature_due(self, as_of: datetime | None = None) -> int:
        """Moves to settleable every commission whose return window has passed by `as_of`."""
        as_of = self.as_of(as_of)
        self.read_models.catch_up(CommissionsDue)
        matured: set[UUID] = set()
        for row in self.read_models.select(COMMISSIONS_DUE, {}):
            if row["delivered_at"] is None:
                continue

            def decide(accrual_id: UUID = row["accrual_id"]) -> Decision:
                accrual = self.load(CommissionAccrual, accrual_id)
                if accrual.matured or accrual.due_at is None or as_of < accrual.due_at:
                    return [], CommandResult(accrual.id, accrual.version)
                period = self.period_of(accrual.brand_id, as_of)
                posting_id = f"maturity:{accrual.id}:{accrual.version + 1}"
                posting = accrual.mature(period, as_of, posting_id)
                periods = self._statement_lines(accrual, posting, as_of)
                matured.add(accrual.id)
                return [accrual, *periods], CommandResult(accrual.id, accrual.version)

            self.execute(Command(LEDGER_ACTOR), decide)
        return len(matured)

    def close_period(self, command: Command, brand_id: UUID, period: str) -> list[str]:
        """Closes the brand's period once: handbacks, top-guide bonuses, then every payee's
        statement. Returns the payees closed. Re-running finishes an interrupted close."""
        brand = self.organisation.load(Brand, brand_id)
        if brand.period_of(period_start(period, brand.time_zone)) != period:
            raise InvalidValue(f"{period!r} is not one of the brand's settlement periods")
        now = self.clock.now()
        if now < period_end(period, brand.time_zone):
            raise RuleViolated("the period has not ended yet", period=period)
        close_id = BrandPeriodClose.create_id(brand_id, period)
        self.execute(command, lambda: self._start_close(close_id, brand_id, period))
        self.execute(command, lambda: self._handbacks(close_id, period, now))
        self.execute(command, lambda: self._bonuses(close_id, brand.time_zone, now))
        self.read_models.catch_up(SettlementPeriods)
        closed = []
        for row in self.read_models.select(
            SETTLEMENT_PERIODS, {"brand_id": brand_id, "period": period, "closed": False}
        ):
            self.execute(command, partial(self._close_one, row["period_id"], now))
            closed.append(row["payee"])
        self.execute(command, lambda: self._finish(close_id, now))
        return closed

    def _start_close(self, close_id: UUID, brand_id: UUID, period: str) -> Decision:
        close = self.find(BrandPeriodClose, close_id)
        if close is not None and close.finished:
            raise RuleViolated("the period is already closed; corrections go to the next one")
        close = close or BrandPeriodClose(brand_id, period)
        return [close], CommandResult(close.id, close.version)

    def _handbacks(self, close_id: UUID, period: str, now: datetime) -> Decision:
        close = self.load(BrandPeriodClose, close_id)
        if close.handed_back:
            return [], CommandResult(close.id, close.version)
        self.read_models.catch_up(LedgerBalances)
        postings, periods = [], []
        for row in self.read_models.select(LEDGER_BALANCES, {"brand_id": close.brand_id}):
            account = Account.parse(row["account"])
            if account.bucket is not Bucket.HELD or row["balance_fen"] >= 0:
                continue
            assert account.held_for is not None, "a held bucket names its guide"
            amount = -row["balance_fen"]
            guide = Payee(PayeeLevel.GUIDE, account.held_for)
            posting = Posting(
                f"handback:{close.id}:{account}",
                PostingKind.HANDBACK,
                close.brand_id,
                (Entry(account, amount), Entry(guide.account(Bucket.SETTLEABLE), -amount)),
                period,
                now,
            )
            postings.append(posting)
            line = StatementLine(
                "handback", amount, f"handed back from {account.owner}", posting.posting_id
            )
            periods.append(self._add_line(close.brand_id, guide, period, line))
        close.post_handbacks(tuple(postings))
        return [close, *periods], CommandResult(close.id, close.version)

    def _bonuses(self, close_id: UUID, time_zone: str, now: datetime) -> Decision:
        """The top N% of guides by net sales in the period earn the bonus."""
        close = self.load(BrandPeriodClose, close_id)
        if close.bonuses_paid:
            return [], CommandResult(close.id, close.version)
        policy = self.policy_in_force(close.brand_id, now)
        winners = self._top_guides(
            close.brand_id, close.period, time_zone, policy.top_guide_percent
        )
        postings, periods = [], []
        for rank, guide_id in enumerate(winners, start=1):
            guide, amount = Payee(PayeeLevel.GUIDE, guide_id), policy.top_guide_bonus_fen
            if not amount:
                continue
            posting = Posting(
                f"bonus:{close.id}:{guide_id}",
                PostingKind.BONUS,
                close.brand_id,
                (
                    Entry(expense_account(close.brand_id), amount),
                    Entry(guide.account(Bucket.SETTLEABLE), -amount),
                ),
                close.period,
                now,
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
            periods.append(self._add_line(close.brand_id, guide, close.period, line))
        close.post_bonuses(tuple(postings))
        return [close, *periods], CommandResult(close.id, close.version)

    def _top_guides(self, brand_id: UUID, period: str, time_zone: str, percent: int) -> list[UUID]:
        self.read_models.catch_up(SalesByDay)
        net: dict[UUID, int] = {}
        days = days_of(period, time_zone)
        for row in self.read_models.select(GUIDE_SALES_BY_DAY, {"brand_id": brand_id, "day": days}):
            value = (row["sales_fen"] or 0) - (row["refunds_fen"] or 0)
            net[row["guide_id"]] = net.get(row["guide_id"], 0) + value
        ranked = sorted((g for g in net if net[g] > 0), key=lambda g: (-net[g], str(g)))
        return ranked[: math.ceil(len(ranked) * percent / 100)]

    def _close_one(self, period_id: UUID, now: datetime, final: bool = False) -> Decision:
        period = self.load(SettlementPeriod, period_id)
        if period.closed:
            return [], CommandResult(period.id, period.version)
        period.close(now, f"settlement:{period.id}", final)
        touched: list[Any] = [period]
        if period.total_fen < 0:  # carried forward as a negative balance
            line = StatementLine("brought_forward", period.total_fen, f"from {period.period}")
            following = self._brand(period.brand_id).period_after(period.period)
            touched.append(self._add_line(period.brand_id, period.payee, following, line))
        return touched, CommandResult(period.id, period.version)

    def _finish(self, close_id: UUID, now: datetime) -> Decision:
        close = self.load(BrandPeriodClose, close_id)
        if not close.finished:
            close.finish(now)
        return [close], CommandResult(close.id, close.version)

    def close_final(self, guide_id: UUID) -> None:
        """A guide who leaves gets a final statement for the period they left in."""
        self.read_models.catch_up(SettlementPeriods)
        now = self.clock.now()
        payee = Payee(PayeeLevel.GUIDE, guide_id).key
        for row in self.read_models.select(SETTLEMENT_PERIODS, {"payee": payee, "closed": False}):
            self.execute(
                Command(LEDGER_ACTOR), partial(self._close_one, row["period_id"], now, True)
            )

    def pay_out(
        self, command: Command, payee_key: str, period: str, amount_fen: int, reference: str
    ) -> CommandResult:
        def decide() -> Decision:
            statement = self.statement(payee_key, period)
            statement.pay_out(amount_fen, reference, self.clock.now(), f"payout:{statement.id}")
            return [statement], CommandResult(statement.id, statement.version)

        return self.execute(command, decide)

    # --- queries -----------------------------------------------------------------------

    def statement(self, payee_key: str, period: str) -> SettlementPeriod:
        found = self.find(SettlementPeriod, settlement_period_id(payee_key, period))
        if found is None:
            raise NotFound(f"{payee_key} has nothing in {period}")
        return found

    def statement_lines(self, statement: SettlementPeriod) -> list[StatementLine]:
        """The statement's lines: its LineAdded events, in the order they happened."""
        return [e.line for e in self.events.get(statement.id) if type(e).__name__ == "LineAdded"]  # type: ignore[attr-defined]

    def statements(self, payee_key: str) -> list[dict[str, Any]]:
        self.read_models.catch_up(SettlementPeriods)
        return self.read_models.select(
            SETTLEMENT_PERIODS, {"payee": payee_key}, order_by=("period",)
        )

    def balances(self, owner: str) -> dict[str, int]:
        """An owner's balance per bucket, as owed to them (credit balances positive),
        and `paid`: what their paid statements came to."""
        self.read_models.catch_up(LedgerBalances)
        balances = {
            row["bucket"]: -row["balance_fen"]
            for row in self.read_models.select(LEDGER_BALANCES, {"owner": owner})
        }
        paid = sum(s["total_fen"] for s in self.statements(owner) if s["paid_reference"])
        return {**balances, "paid": paid} if paid else balances

    def payouts(self, brand_id: UUID) -> list[dict[str, Any]]:
        """Per period and payee level: statements, their total (open ones so far), what the
        closed ones came to and what was paid."""
        self.read_models.catch_up(SettlementPeriods)
        totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for row in self.read_models.select(SETTLEMENT_PERIODS, {"brand_id": brand_id}):
            total = totals[(row["period"], Payee.of_key(row["payee"]).level)]
            total["statements"] += 1
            total["total_fen"] += row["total_fen"]
            total["closed_fen"] += row["total_fen"] if row["closed"] else 0
            total["paid_fen"] += row["total_fen"] if row["paid_reference"] else 0
        return [
            {"period": period, "level": level, **totals[(period, level)]}
            for period, level in sorted(totals)
        ]

    def trial_balance(self, brand_id: UUID) -> tuple[int, dict[str, int]]:
        """The sum of every account (zero when the books balance) and each account's balance."""
        self.read_models.catch_up(LedgerBalances)
        rows = self.read_models.select(LEDGER_BALANCES, {"brand_id": brand_id})
        accounts = {row["account"]: row["balance_fen"] for row in rows}
        return sum(accounts.values()), accounts

    def first_open_period(self, brand_id: UUID, period: str) -> str:
        """`period` if it is still open, else the first open period after it."""
        brand = self._brand(brand_id)
        while True:
            close = self.find(BrandPeriodClose, BrandPeriodClose.create_id(brand_id, period))
            if close is None or not close.finished:
                return period
            period = brand.period_after(period)

    def is_closed(self, brand_id: UUID, moment: datetime) -> bool:
        """Whether the brand's period containing `moment` has been closed."""
        period = self.period_of(brand_id, moment)
        close = self.find(BrandPeriodClose, BrandPeriodClose.create_id(brand_id, period))
        return close is not None and close.finished

    # --- helpers -----------------------------------------------------------------------

    def period_of(self, brand_id: UUID, moment: datetime) -> str:
        return self.organisation.load(Brand, brand_id).period_of(moment)

    def period_after(self, brand_id: UUID, period: str) -> str:
        return self._brand(brand_id).period_after(period)

    def _brand(self, brand_id: UUID) -> Brand:
        return self.organisation.load(Brand, brand_id)

    def _maturity_period_closed(self, accrual: CommissionAccrual) -> bool:
        if accrual.matured_period is None:
            return False
        close_id = BrandPeriodClose.create_id(accrual.brand_id, accrual.matured_period)
        close = self.find(BrandPeriodClose, close_id)
        return close is not None and close.finished

    def _statement_lines(
        self, accrual: CommissionAccrual, posting: Posting | None, at: datetime
    ) -> list[SettlementPeriod]:
        """Each payee's settleable change becomes a line in their open period."""
        if posting is None:
            return []
        period = self.period_of(accrual.brand_id, at)
        return [
            self._add_line(accrual.brand_id, payee, period, line)
            for payee, line in accrual.statement_lines(posting)
        ]

    def _add_line(
        self, brand_id: UUID, payee: Payee, period: str, line: StatementLine
    ) -> SettlementPeriod:
        """Adds the line to the payee's period, or the next open one if that is closed."""
        while True:
            found = self.find(SettlementPeriod, SettlementPeriod.create_id(payee, period))
            if found is None or not found.closed:
                break
            period = self.period_after(brand_id, period)
        statement = found or SettlementPeriod(brand_id, Payee(payee.level, payee.payee_id), period)
        statement.add_line(line)
        return statement


def _payees(attribution: Attribution) -> list[Payee]:
    if attribution.store_id is None:
        return []
    payees = []
    if attribution.guide_id is not None:
        held_by = (
            attribution.store_id
            if attribution.channel is AttributionChannel.STORE_ACCOUNT_GUIDE
            else None
        )
        payees.append(Payee(PayeeLevel.GUIDE, attribution.guide_id, held_by))
    for level, payee_id in (
        (PayeeLevel.STORE, attribution.store_id),
        (PayeeLevel.DISTRICT, attribution.district_id),
        (PayeeLevel.REGION, attribution.region_id),
        (PayeeLevel.BRANCH, attribution.branch_id),
    ):
        if payee_id is not None:
            payees.append(Payee(level, payee_id))
    return payees
