"""Decides an order's attribution from its evidence, as the organisation stands now."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import (
    DEFAULT_ATTRIBUTION_POLICY,
    GUIDE_LINK_CHANNELS,
    Attribution,
    AttributionEvidence,
    AttributionInputs,
    AttributionPolicy,
    Channel,
    attribute,
)
from guideledger.eventstore.repository import LedgerRepository, find
from guideledger.kernel.privacy import Sealed
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.directory import GUIDES, GuideDirectory
from guideledger.organisation.application.policy_books import policy_in_force
from guideledger.organisation.domain.guides import GuideSnapshot
from guideledger.readmodels.folded import FoldedTable
from guideledger.readmodels.model import ReadModels

ATTRIBUTION = "attribution"  # the policy book's kind


class Attributor:
    def __init__(
        self,
        organisation: OrganisationApplication,
        repository: LedgerRepository,
        read_models: ReadModels,
    ) -> None:
        self.organisation = organisation
        self.repository = repository
        # The guides of a store, for a customer's note naming one (kept in memory: no
        # read model is caught up in a request).
        self.guides = FoldedTable(GuideDirectory(), GUIDES, organisation, read_models, "store_id")

    def policy_in_force(self, brand_id: UUID, at: datetime) -> AttributionPolicy:
        return policy_in_force(
            self.repository, brand_id, ATTRIBUTION, at, DEFAULT_ATTRIBUTION_POLICY
        )

    def binding(
        self, member_id: UUID, brand_id: UUID, for_change: bool = True
    ) -> MemberBinding | None:
        binding_id = MemberBinding.create_id(member_id, brand_id)
        return find(self.repository, MemberBinding, binding_id, for_change)

    def binding_after_purchase(
        self,
        member_id: UUID,
        brand_id: UUID,
        guide_id: UUID,
        order_id: UUID,
        at: datetime,
        actor: str,
    ) -> MemberBinding:
        """The member's binding once a purchase attributed to the guide is paid, by the
        policy in force; the caller saves it with the order."""
        policy = self.policy_in_force(brand_id, at)
        binding = self.binding(member_id, brand_id) or MemberBinding(member_id, brand_id)
        binding.after_attributed_purchase(
            guide_id, policy.binding_mode, policy.protection, order_id, at, actor
        )
        return binding

    def decide(
        self, brand_id: UUID, member_id: UUID, evidence: AttributionEvidence, at: datetime
    ) -> Attribution:
        policy = self.policy_in_force(brand_id, at)
        org = self.organisation
        link_guide = None
        if evidence.channel in GUIDE_LINK_CHANNELS and evidence.guide_id is not None:
            link_guide = org.guide_snapshot(evidence.guide_id, "evidence.guide_id")
        binding = self.binding(member_id, brand_id, for_change=False)
        bound_guide = org.guide_snapshot(binding.guide_id) if binding and binding.guide_id else None
        evidence_store = noted_guide = None
        if evidence.channel is Channel.STORE_ACCOUNT and evidence.store_id is not None:
            evidence_store = org.store_snapshot(evidence.store_id, "evidence.store_id")
            noted_guide = self.noted_guide(evidence.store_id, evidence.guide_note)
        inputs = AttributionInputs(link_guide, bound_guide, noted_guide, evidence_store)
        return attribute(brand_id, evidence, inputs, policy)

    def noted_guide(self, store_id: UUID, note: Sealed | str | None) -> GuideSnapshot | None:
        """The one active guide of the store whose name or code the customer wrote (the
        note as the frontend sent it, before it is sealed)."""
        if not isinstance(note, str) or not note:
            return None
        wanted = note.strip().casefold()
        matches = [
            row
            for row in self.guides.current([store_id])
            if row["active"] and wanted in {row["name"].casefold(), row["code"].casefold()}
        ]
        if len(matches) != 1:
            return None
        return self.organisation.guide_snapshot(matches[0]["guide_id"])
