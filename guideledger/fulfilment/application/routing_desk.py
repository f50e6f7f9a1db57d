"""A brand's routing policy, published as versions, and routing tried without reserving.

The policy book is kept in the event store the orders are kept in (`store`): placing an
order reads the policy in force from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.fulfilment.application.planner import ROUTING, Fulfilment
from guideledger.fulfilment.domain.routing import LineDemand, RoutingDecision, RoutingPolicy
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import publish, published
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku


class RoutingDesk:
    def __init__(
        self,
        store: LedgerApplication,
        organisation: OrganisationApplication,
        planner: Fulfilment,
    ) -> None:
        self.store = store
        self.organisation = organisation
        self.planner = planner

    def publish_policy(
        self,
        command: Command,
        brand_id: UUID,
        draft: RoutingPolicy,
        effective_now: bool = False,
    ) -> CommandResult:
        return publish(
            self.store, self.organisation, command, brand_id, ROUTING, draft, effective_now
        )

    def policies(self, brand_id: UUID) -> list[RoutingPolicy]:
        return published(self.store.repository, brand_id, ROUTING)

    def dry_run(
        self, brand_id: UUID, lines: Sequence[LineDemand], destination: GeoPoint
    ) -> RoutingDecision:
        """How an order would be routed now; reserves and records nothing."""
        brand = self.organisation.fact(Brand, brand_id, "brand_id")
        for line in lines:
            sku = self.organisation.fact(Sku, line.sku_id, f"lines[{line.line_no}].sku_id")
            if sku.brand_id != brand_id:
                raise RuleViolated("a line's SKU belongs to another brand", line_no=line.line_no)
        return self.planner.dry_run(
            brand_id, lines, destination, self.store.clock.now(), brand.time_zone
        )
