"""Closing a brand's settlement period, a guide's final statement, and payouts.

Each step of a close is its own command on `BrandPeriodClose`, so a close that was
interrupted finishes when run again and never posts anything twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from guideledger.commissions.application.base import LEDGER_ACTOR, CommissionsBase
from guideledger.commissions.application.views import (
    HELD_LINES,
    LEDGER_BALANCES,
    SETTLEMENT_PERIODS,
    HeldLines,
    LedgerBalances,
    SettlementPeriods,
)
from guideledger.commissions.domain.rules import Account, Bucket, Payee, PayeeLevel
from guideledger.commissions.domain.settlement import (
    BrandPeriodClose,
    HeldLine,
    HeldShare,
    SettlementPeriod,
    held_shares,
)
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.periods import days_of, period_end, period_start
from guideledger.orders.application.sales import GUIDE_SALES_BY_DAY, SalesByDay
from guideledger.organisation.domain.brand import Brand

HELD_ACCOUNTS_PER_QUERY = 500  # well within SQLite's limit on a query's parameters


class PeriodClosing(CommissionsBase):
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
        self.execute(command, lambda: self._handbacks(close_id, now))
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

    def _handbacks(self, close_id: UUID, now: datetime) -> Decision:
        close = self.load(BrandPeriodClose, close_id)
        if close.handed_back:
            return [], CommandResult(close.id, close.version)
        shares = self._held_shares(close.brand_id)
        periods = self._add_lines(close.brand_id, close.period, close.hand_back(shares, now))
        return [close, *periods], CommandResult(close.id, close.version)

    def _held_shares(self, brand_id: UUID) -> list[HeldShare]:
        """What the brand's stores hold for guides, order by order, as the ledger holds it."""
        self.read_models.catch_up(LedgerBalances)
        self.read_models.catch_up(HeldLines)
        held = {}
        for row in self.read_models.select(LEDGER_BALANCES, {"brand_id": brand_id}):
            account = Account.parse(row["account"])
            if account.bucket is Bucket.HELD:
                held[account] = row["balance_fen"]
        return held_shares(held, self._held_lines(sorted(held)))

    def _held_lines(self, accounts: list[Account]) -> Iterator[HeldLine]:
        """The held lines of these accounts not handed back yet, asked for in batches."""
        for start in range(0, len(accounts), HELD_ACCOUNTS_PER_QUERY):
            batch = accounts[start : start + HELD_ACCOUNTS_PER_QUERY]
            for row in self.read_models.select(HELD_LINES, {"account": batch}):
                yield HeldLine(
                    row["event_id"],
                    Account.parse(row["account"]),
                    row["order_id"],
                    row["amount_fen"],
                    row["rule_version"],
                )

    def _bonuses(self, close_id: UUID, time_zone: str, now: datetime) -> Decision:
        """The top N% of guides by net sales in the period earn the bonus."""
        close = self.load(BrandPeriodClose, close_id)
        if close.bonuses_paid:
            return [], CommandResult(close.id, close.version)
        policy = self.policy_in_force(close.brand_id, now)
        net_sales = self._net_sales_by_guide(close.brand_id, close.period, time_zone)
        lines = close.pay_bonuses(net_sales, policy, now)
        periods = self._add_lines(close.brand_id, close.period, lines)
        return [close, *periods], CommandResult(close.id, close.version)

    def _net_sales_by_guide(self, brand_id: UUID, period: str, time_zone: str) -> dict[UUID, int]:
        """Each guide's sales less refunds over the period's days, from the sales read model."""
        self.read_models.catch_up(SalesByDay)
        net: dict[UUID, int] = {}
        days = days_of(period, time_zone)
        for row in self.read_models.select(GUIDE_SALES_BY_DAY, {"brand_id": brand_id, "day": days}):
            value = (row["sales_fen"] or 0) - (row["refunds_fen"] or 0)
            net[row["guide_id"]] = net.get(row["guide_id"], 0) + value
        return net

    def _close_one(self, period_id: UUID, now: datetime, final: bool = False) -> Decision:
        period = self.load(SettlementPeriod, period_id)
        if period.closed:
            return [], CommandResult(period.id, period.version)
        period.close(now, f"settlement:{period.id}", final)
        touched: list[Any] = [period]
        carried = period.carried_forward()
        if carried is not None:  # a negative total waits in the payee's next period
            following = self.period_after(period.brand_id, period.period)
            touched += self._add_lines(period.brand_id, following, [(period.payee, carried)])
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
