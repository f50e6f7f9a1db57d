"""Members' exclusive guides: binding at registration or by support, releasing a departed
guide's members, and each binding's history.

Bindings are kept in the event store the orders are kept in (`store`): paying an order
may bind its member, in the same transaction.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from guideledger.attribution.application.attributor import Attributor
from guideledger.attribution.application.projections import MEMBER_BINDINGS, MemberBindings
from guideledger.attribution.domain.binding import MemberBinding
from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.kernel.errors import RuleViolated
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.guides import Guide
from guideledger.readmodels.history import Fact, HistoryEntry, history_entry
from guideledger.readmodels.model import ReadModels

GUIDE_DEPARTURE_ACTOR = "system:guide-departure"


class Bindings:
    def __init__(
        self,
        store: LedgerApplication,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        attributor: Attributor,
    ) -> None:
        self.store = store
        self.organisation = organisation
        self.read_models = read_models
        self.attributor = attributor

    def bind(
        self, command: Command, member_id: UUID, brand_id: UUID, guide_id: UUID, reason: str
    ) -> CommandResult:
        """Binds at registration, or support rebinds, whatever the protection window."""

        def decide() -> Decision:
            self.organisation.require_member_of_brands_group(member_id, brand_id)
            guide = self.organisation.guide_snapshot(guide_id)
            if not guide.active:
                raise RuleViolated("a guide who has left cannot be bound")
            if self.organisation.fact(Guide, guide_id, "guide_id").brand_id != brand_id:
                raise RuleViolated("the guide works for another brand")
            now = self.store.clock.now()
            policy = self.attributor.policy_in_force(brand_id, now)
            binding = self.attributor.binding(member_id, brand_id) or MemberBinding(
                member_id, brand_id
            )
            binding.bind(guide_id, reason, policy.protection, now, command.actor)
            return [binding], CommandResult(binding.id, binding.version)

        return self.store.execute(command, decide)

    def release_all_of(self, guide_id: UUID, reason: str) -> list[UUID]:
        """A guide left: their members are free again. Safe to run more than once."""
        self.read_models.catch_up(MemberBindings)
        released = []
        for row in self.read_models.select(MEMBER_BINDINGS, {"guide_id": guide_id}):

            def decide(binding_id: UUID = row["binding_id"]) -> Decision:
                binding = self.store.load(MemberBinding, binding_id)
                if binding.guide_id != guide_id:
                    return [], CommandResult(binding.id, binding.version)
                binding.release(reason, self.store.clock.now(), GUIDE_DEPARTURE_ACTOR)
                return [binding], CommandResult(binding.id, binding.version)

            self.store.execute(Command(GUIDE_DEPARTURE_ACTOR), decide)
            released.append(row["member_id"])
        return released

    def history(self, member_id: UUID, brand_id: UUID) -> list[HistoryEntry]:
        binding_id = MemberBinding.create_id(member_id, brand_id)
        facts = cast("list[Fact]", list(self.store.events.get(binding_id)))
        return [history_entry(f) for f in facts if not isinstance(f, MemberBinding.Opened)]

    def current(self, member_id: UUID, brand_id: UUID) -> MemberBinding | None:
        return self.attributor.binding(member_id, brand_id)
