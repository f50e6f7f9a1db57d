"""What every command of the commission ledger shares: the rules it applies, the brand's
calendar, and where a statement line goes.

`CommissionApplication` is one eventsourcing application (one log, one transaction
boundary); its commands are split by concern over `Accruals` (order facts) and
`PeriodClosing` (closing, paying), both built on this base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID

from guideledger.commissions.domain.ledger import CommissionAccrual, StatementLine
from guideledger.commissions.domain.rules import (
    DEFAULT_COMMISSION_POLICY,
    CommissionPolicy,
    Payee,
    Posting,
)
from guideledger.commissions.domain.settlement import (
    BrandPeriodClose,
    SettlementPeriod,
    accrual_lines,
    settlement_period_id,
)
from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.kernel.errors import NotFound
from guideledger.kernel.periods import PeriodClosed
from guideledger.orders.domain.order import Order
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import policy_in_force, publish, published
from guideledger.organisation.domain.brand import Brand
from guideledger.readmodels.model import ReadModels

COMMISSION = "commission"  # the policy book's kind
LEDGER_ACTOR = "system:ledger"


class CommissionsBase(LedgerApplication):
    def __init__(
        self,
        runtime: Runtime,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        order_of: Callable[[UUID], Order],
    ) -> None:
        """`order_of` gives an order as it stands now (the orders' own query)."""
        super().__init__(runtime)
        self.organisation = organisation
        self.read_models = read_models
        self.order_of = order_of

    # --- rules -------------------------------------------------------------------------

    def policy_in_force(self, brand_id: UUID, at: datetime) -> CommissionPolicy:
        return policy_in_force(self.repository, brand_id, COMMISSION, at, DEFAULT_COMMISSION_POLICY)

    def publish_policy(
        self,
        command: Command,
        brand_id: UUID,
        draft: CommissionPolicy,
        effective_now: bool = False,
    ) -> CommandResult:
        """Publishes the brand's next commission rules: now, later, or in the past while
        every period they reach is open. Orders accrued under the rules they replace keep
        them until a rebuild of the commission view under these is promoted."""
        return publish(
            self,
            self.organisation,
            command,
            brand_id,
            COMMISSION,
            draft,
            effective_now,
            reach_back=self.check_reach,
        )

    def policies(self, brand_id: UUID) -> list[CommissionPolicy]:
        return published(self.repository, brand_id, COMMISSION)

    def recorded_rules(self, brand_id: UUID, version: int) -> CommissionPolicy:
        """The rules a posting records by version (0: the defaults)."""
        versions = [p for p in self.policies(brand_id) if p.version == version]
        return versions[0] if versions else DEFAULT_COMMISSION_POLICY

    # --- the brand's calendar ------------------------------------------------------------

    def period_of(self, brand_id: UUID, moment: datetime) -> str:
        return self._brand(brand_id).period_of(moment)

    def period_after(self, brand_id: UUID, period: str) -> str:
        return self._brand(brand_id).period_after(period)

    def _brand(self, brand_id: UUID) -> Brand:
        return self.organisation.load(Brand, brand_id)

    def first_open_period(self, brand_id: UUID, period: str) -> str:
        """`period` if it is still open, else the first open period after it."""
        brand = self._brand(brand_id)
        while self._closed(brand_id, period):
            period = brand.period_after(period)
        return period

    def check_reach(self, brand_id: UUID, effective_from: datetime, now: datetime) -> None:
        """Rules taking effect at `effective_from` reach every period from its own to now's:
        refused if one of them is closed, since a closed period never changes."""
        for period in self._brand(brand_id).periods_between(effective_from, now):
            if self._closed(brand_id, period):
                raise PeriodClosed(
                    f"rules taking effect at {effective_from.isoformat()} would reach "
                    f"{period}, which is closed",
                    period=period,
                    effective_from=effective_from.isoformat(),
                )

    def is_closed(self, brand_id: UUID, moment: datetime) -> bool:
        """Whether the brand's period containing `moment` has been closed."""
        return self._closed(brand_id, self.period_of(brand_id, moment))

    def _closed(self, brand_id: UUID, period: str) -> bool:
        close = self.find(BrandPeriodClose, BrandPeriodClose.create_id(brand_id, period))
        return close is not None and close.finished

    # --- statements -------------------------------------------------------------------------

    def statement(self, payee_key: str, period: str) -> SettlementPeriod:
        found = self.find(SettlementPeriod, settlement_period_id(payee_key, period))
        if found is None:
            raise NotFound(f"{payee_key} has nothing in {period}")
        return found

    def _accrual_lines(
        self, accrual: CommissionAccrual, posting: Posting | None, at: datetime
    ) -> list[SettlementPeriod]:
        """Each payee's settleable change in `posting` becomes a line in their open period."""
        if posting is None:
            return []
        return self._add_lines(
            accrual.brand_id, self.period_of(accrual.brand_id, at), accrual_lines(accrual, posting)
        )

    def _add_lines(
        self,
        brand_id: UUID,
        period: str,
        lines: Iterable[tuple[Payee, StatementLine]],
        changed: dict[UUID, SettlementPeriod] | None = None,
    ) -> list[SettlementPeriod]:
        """Adds each line to its payee's `period`, or the next open one if that is closed;
        returns the statements changed (each once, however many of the lines it got).
        `changed`: the statements a command has changed so far, each of which it adds to."""
        changed = {} if changed is None else changed
        for payee, line in lines:
            statement = self._open_statement(brand_id, payee, period, changed)
            statement.add_line(line)
            changed[statement.id] = statement
        return list(changed.values())

    def _open_statement(
        self, brand_id: UUID, payee: Payee, period: str, changed: dict[UUID, SettlementPeriod]
    ) -> SettlementPeriod:
        while True:
            statement_id = SettlementPeriod.create_id(payee, period)
            found = changed.get(statement_id) or self.find(SettlementPeriod, statement_id)
            if found is None or not found.closed:
                break
            period = self.period_after(brand_id, period)
        return found or SettlementPeriod(brand_id, Payee(payee.level, payee.payee_id), period)
