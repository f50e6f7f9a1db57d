"""Order facts that move commission: paid → accrue, delivered → start the return window,
returned or cancelled → reverse, attribution corrected → move to the new payees; and
the daily run that matures what the return window no longer threatens.

Order facts reach these commands through `CommissionProcess`; each is idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from guideledger.commissions.application.base import LEDGER_ACTOR, CommissionsBase
from guideledger.commissions.application.views import COMMISSIONS_DUE, CommissionsDue
from guideledger.commissions.domain.earnings import OrderFacts
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.catalogue import Sku


class Accruals(CommissionsBase):
    def order_facts(self, order: Order, refunded_fen: int = 0) -> OrderFacts:
        """The paid order's facts for its accrual: its SKUs' categories and the period it
        was paid in looked up; `refunded_fen` for a re-accrual after refunds."""
        assert order.paid_at is not None, "only a paid order earns commission"
        categories = {
            line.sku_id: self.organisation.fact(Sku, line.sku_id, "sku_id").category
            for line in order.lines
        }
        paid_period = self.period_of(order.brand_id, order.paid_at)
        return OrderFacts.of(order, categories, paid_period, refunded_fen)

    def accrue(self, order_id: UUID, source_event: str) -> None:
        """The order was paid: each payee's commission is accrued as pending."""

        def decide() -> Decision:
            accrual_id = CommissionAccrual.create_id(order_id)
            if self.exists(CommissionAccrual, accrual_id):
                return [], CommandResult(accrual_id, 0)
            order = self.order_of(order_id)
            assert order.paid_at is not None, "accrued only once paid"
            accrual = CommissionAccrual.accrue(
                order_id=order.id,
                facts=self.order_facts(order),
                policy=self.policy_in_force(order.brand_id, order.paid_at),
                source_event=source_event,
                occurred_at=order.paid_at,
            )
            return [accrual], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def record_delivery(self, order_id: UUID, source_event: str) -> None:
        """The return window starts when the order's last parcel arrives."""
        delivered_at = self.order_of(order_id).delivered_at
        if delivered_at is None:
            return

        def decide() -> Decision:
            accrual = self.find(CommissionAccrual, CommissionAccrual.create_id(order_id))
            if accrual is None:
                return [], CommandResult(order_id, 0)
            accrual.record_delivery(delivered_at, source_event)
            return [accrual], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def reverse(self, order_id: UUID, source_event: str, everything: bool) -> None:
        """Units came back (or the order was cancelled): reverse in proportion."""

        def decide() -> Decision:
            accrual = self.find(CommissionAccrual, CommissionAccrual.create_id(order_id))
            if accrual is None:
                return [], CommandResult(order_id, 0)
            order = self.order_of(order_id)
            now = self.clock.now()
            posting = accrual.reverse(
                returned_fen=None if everything else order.returned_fen,
                period=self.period_of(accrual.brand_id, now),
                at=now,
                posting_id=f"reversal:{accrual.id}:{accrual.version + 1}",
                source_event=source_event,
                clawback=self._maturity_period_closed(accrual),
            )
            periods = self._accrual_lines(accrual, posting, now)
            return [accrual, *periods], CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

    def _maturity_period_closed(self, accrual: CommissionAccrual) -> bool:
        """A return after the period the commission matured in closed is a clawback."""
        period = accrual.matured_period
        return period is not None and self._closed(accrual.brand_id, period)

    def move_to_new_payees(self, order_id: UUID, source_event: str) -> None:
        """The attribution was corrected: the old payees give back, the new ones earn."""
        self.reverse(order_id, source_event, everything=True)

        def decide() -> Decision:
            accrual = self.load(CommissionAccrual, CommissionAccrual.create_id(order_id))
            order = self.order_of(order_id)
            was_matured = accrual.matured
            now = self.clock.now()
            period = self.period_of(accrual.brand_id, now)
            accrual.reaccrue(
                self.order_facts(order, refunded_fen=order.refunded_fen),
                self.recorded_rules(accrual.brand_id, accrual.rule_version),
                period,
                now,
                f"accrual:{accrual.id}:{accrual.version + 1}",
                source_event,
            )
            touched: list[Any] = [accrual]
            if was_matured:
                posting = accrual.mature(
                    period, now, f"maturity:{accrual.id}:{accrual.version + 1}"
                )
                touched += self._accrual_lines(accrual, posting, now)
            return touched, CommandResult(accrual.id, accrual.version)

        self.execute(Command(LEDGER_ACTOR), decide)

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
                periods = self._accrual_lines(accrual, posting, as_of)
                matured.add(accrual.id)
                return [accrual, *periods], CommandResult(accrual.id, accrual.version)

            self.execute(Command(LEDGER_ACTOR), decide)
        return len(matured)
