"""The commission context: a double-entry ledger of what guides, stores, districts,
regions and branches earn, settled per month or quarter into statements.

Order facts reach it through `CommissionProcess` (paid → accrue, delivered →
start the return window, returned or cancelled → reverse, attribution
corrected → move to the new payees: `Accruals`). Maturing and closing are
commands run for an instant, by a scheduler or the CLI (`PeriodClosing`). A change
of a brand's rules is booked as corrections of the orders it changes (`RuleChanges`). The
rules themselves are the domain's (`commissions.domain`): these commands read,
call them and save.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from uuid import UUID

from guideledger.commissions.application.accruals import Accruals
from guideledger.commissions.application.closing import PeriodClosing
from guideledger.commissions.application.rule_changes import RuleChanges
from guideledger.commissions.application.views import (
    LEDGER_BALANCES,
    SETTLEMENT_PERIODS,
    LedgerBalances,
    SettlementPeriods,
)
from guideledger.commissions.domain.earnings import CrossBranchShipment, OrderFacts
from guideledger.commissions.domain.ledger import PayeeShare, StatementLine
from guideledger.commissions.domain.rules import (
    CommissionPolicy,
    Entry,
    Payee,
    Posting,
    RateRule,
    SaleLine,
)
from guideledger.commissions.domain.settlement import SettlementPeriod


class CommissionApplication(Accruals, PeriodClosing, RuleChanges):
    name = "commissions"
    value_types = (
        Payee,
        PayeeShare,
        Posting,
        Entry,
        StatementLine,
        CommissionPolicy,
        RateRule,
        OrderFacts,
        SaleLine,
        CrossBranchShipment,
    )
    snapshotting_intervals = {SettlementPeriod: 200}  # noqa: RUF012  (the library's shape)

    def statement_lines(self, statement: SettlementPeriod) -> list[StatementLine]:
        """The statement's lines: its LineAdded events, in the order they happened."""
        return [
            event.line
            for event in self.events.get(statement.id)
            if isinstance(event, SettlementPeriod.LineAdded)
        ]

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
