"""Support's corrections of an order's attribution: a new event, never an edit, and never
once the settlement period the order was paid in has closed."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from guideledger.attribution.application.attribution_desk import AttributionDesk
from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.kernel.periods import PeriodClosed
from guideledger.orders.domain.order import Order


class PeriodGate(Protocol):
    """Whether the settlement period containing an instant is closed (the ledger knows)."""

    def is_closed(self, brand_id: UUID, moment: datetime) -> bool: ...


class AttributionCorrections:
    def __init__(
        self, orders: LedgerApplication, desk: AttributionDesk, period_gate: PeriodGate
    ) -> None:
        self.orders = orders
        self.desk = desk
        self.period_gate = period_gate

    def correct(
        self,
        command: Command,
        order_id: UUID,
        *,
        guide_id: UUID | None,
        store_id: UUID | None,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Support moves a sale to another guide or store."""

        def change(order: Order) -> None:
            assert order.attribution is not None, "every placed order is attributed"
            if order.paid_at and self.period_gate.is_closed(order.brand_id, order.paid_at):
                raise PeriodClosed(
                    "the order's settlement period is closed; attribution can no longer change"
                )
            attribution = self.desk.corrected(order.attribution, guide_id, store_id)
            order.correct_attribution(attribution, reason, self.orders.clock.now(), command.actor)

        return self.orders.update(command, Order, order_id, expected_version, change)
