"""A brand's attribution policy, published as versions, and the attribution support asks
for when it corrects a sale (the orders context applies it to the order).

The policy book is kept in the orders context's event store (`store`).
"""

from __future__ import annotations

from uuid import UUID

from guideledger.attribution.application.attributor import ATTRIBUTION
from guideledger.attribution.domain.rules import Attribution, AttributionPolicy, corrected
from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import publish, published
from guideledger.organisation.domain.units import Node


class AttributionDesk:
    def __init__(self, store: LedgerApplication, organisation: OrganisationApplication) -> None:
        self.store = store
        self.organisation = organisation

    def corrected(
        self, current: Attribution, guide_id: UUID | None, store_id: UUID | None
    ) -> Attribution:
        """The attribution support asks for: to the guide (in their store now) or to the
        store, within the sale's brand."""
        if (guide_id is None) == (store_id is None):
            raise InvalidValue("name either the guide or the store the sale belongs to")
        if guide_id is not None:
            store = self.organisation.guide_snapshot(guide_id).store
        else:
            assert store_id is not None
            store = self.organisation.store_snapshot(store_id)
        if self.organisation.fact(Node, store.store_id, "store_id").brand_id != current.brand_id:
            raise RuleViolated("the sale can only move within its brand")
        return corrected(current, store, guide_id)

    def publish_policy(
        self,
        command: Command,
        brand_id: UUID,
        draft: AttributionPolicy,
        effective_now: bool = False,
    ) -> CommandResult:
        return publish(
            self.store, self.organisation, command, brand_id, ATTRIBUTION, draft, effective_now
        )

    def policies(self, brand_id: UUID) -> list[AttributionPolicy]:
        return published(self.store.repository, brand_id, ATTRIBUTION)
