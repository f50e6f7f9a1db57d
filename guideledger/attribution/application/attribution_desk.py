"""Support's corrections of an order's attribution, and a brand's attribution policy,
published as versions.

Orders and the policy book are kept in one event store (`store`), the orders context's.
The orders context stands above this one, so the order is known here only by what a
correction needs of it (`AttributedOrder`) and its kind is given by the composition root.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate

from guideledger.attribution.application.attributor import ATTRIBUTION
from guideledger.attribution.domain.rules import Attribution, AttributionChannel, AttributionPolicy
from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.periods import PeriodClosed
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import publish, published
from guideledger.organisation.domain.guides import GuideSnapshot
from guideledger.organisation.domain.units import Node, StoreSnapshot


class PeriodGate(Protocol):
    """Whether the settlement period containing an instant is closed (the ledger knows)."""

    def is_closed(self, brand_id: UUID, moment: datetime) -> bool: ...


@runtime_checkable
class AttributedOrder(Protocol):
    """What correcting an attribution needs of the order it belongs to."""

    brand_id: UUID
    paid_at: datetime | None
    attribution: Attribution | None

    def correct_attribution(
        self, attribution: Attribution, reason: str, occurred_at: datetime, actor: str
    ) -> None: ...


class AttributionDesk:
    def __init__(
        self,
        store: LedgerApplication,
        organisation: OrganisationApplication,
        period_gate: PeriodGate,
        order_kind: type[Aggregate],
    ) -> None:
        self.store = store
        self.organisation = organisation
        self.period_gate = period_gate
        self.order_kind = order_kind

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
        """Support moves a sale to another guide or store; a new event, never an edit."""

        def change(order: Aggregate) -> None:
            assert isinstance(order, AttributedOrder)
            assert order.attribution is not None, "every placed order is attributed"
            if order.paid_at and self.period_gate.is_closed(order.brand_id, order.paid_at):
                raise PeriodClosed(
                    "the order's settlement period is closed; attribution can no longer change"
                )
            corrected = self._corrected(order.attribution, guide_id, store_id)
            order.correct_attribution(corrected, reason, self.store.clock.now(), command.actor)

        return self.store.update(command, self.order_kind, order_id, expected_version, change)

    def _corrected(
        self, current: Attribution, guide_id: UUID | None, store_id: UUID | None
    ) -> Attribution:
        if (guide_id is None) == (store_id is None):
            raise InvalidValue("name either the guide or the store the sale belongs to")
        if guide_id is not None:
            guide: GuideSnapshot = self.organisation.guide_snapshot(guide_id)
            store: StoreSnapshot = guide.store
            channel = (
                current.channel
                if current.guide_id is not None
                else AttributionChannel.STORE_ACCOUNT_GUIDE
            )
        else:
            assert store_id is not None
            store = self.organisation.store_snapshot(store_id)
            channel = AttributionChannel.STORE_ONLY
        if self.organisation.fact(Node, store.store_id, "store_id").brand_id != current.brand_id:
            raise RuleViolated("the sale can only move within its brand")
        return Attribution(
            channel=channel,
            rule="support_correction",
            policy_version=current.policy_version,
            brand_id=current.brand_id,
            evidence=current.evidence,
            guide_id=guide_id,
            store_id=store.store_id,
            branch_id=store.branch_id,
            district_id=store.district_id,
            region_id=store.region_id,
        )

    def publish_policy(
        self, command: Command, brand_id: UUID, draft: AttributionPolicy
    ) -> CommandResult:
        return publish(self.store, self.organisation, command, brand_id, ATTRIBUTION, draft)

    def policies(self, brand_id: UUID) -> list[AttributionPolicy]:
        return published(self.store.repository, brand_id, ATTRIBUTION)
