"""The organisation context: brands and their structure, the catalogue, members."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from guideledger.eventstore.application import LedgerApplication, Runtime, kind_name
from guideledger.eventstore.commands import Command, CommandResult, UnknownReference
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.periods import SettlementCadence
from guideledger.kernel.privacy import Sealed, Vault
from guideledger.kernel.values import Fen, GeoPoint, require_text
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.group import Group
from guideledger.organisation.domain.guides import Guide, GuideSnapshot
from guideledger.organisation.domain.members import Member
from guideledger.organisation.domain.units import (
    Branch,
    District,
    Node,
    NodeKind,
    OpeningHours,
    Region,
    StoreOwnership,
    StoreSnapshot,
)

A = TypeVar("A", bound=Aggregate)
FACT_CACHE_SIZE = 100_000


class OrganisationApplication(LedgerApplication):
    name = "organisation"
    value_types = (GeoPoint, Sealed)

    def __init__(self, runtime: Runtime, vault: Vault) -> None:
        super().__init__(runtime)
        self.vault = vault
        self._facts: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._facts_lock = threading.Lock()

    def fact(self, cls: type[A], aggregate_id: UUID, field: str) -> A:
        """A referenced aggregate, for facts about it that never change.

        A brand's time zone, a SKU's or node's brand, a node's kind and branch,
        a member's existence are fixed at registration, so placing an order
        need not read them from the store each time. Anything that can change
        (a guide's store, a node being paused) must be read with `load`.
        """
        with self._facts_lock:
            cached = self._facts.get(aggregate_id)
            if cached is not None:
                self._facts.move_to_end(aggregate_id)
        if cached is None:
            cached = self.reference(cls, aggregate_id, field, for_change=False)
            with self._facts_lock:
                self._facts[aggregate_id] = cached
                if len(self._facts) > FACT_CACHE_SIZE:
                    self._facts.popitem(last=False)
        if not isinstance(cached, cls):
            raise UnknownReference(
                f"{field} names no known {kind_name(cls)}", field=field, id=str(aggregate_id)
            )
        return cached

    # --- groups, brands, regions, districts, branches ---------------------------

    def register_group(self, command: Command, code: str, name: str) -> CommandResult:
        return self.create(
            command, lambda: Group.register(code, name, self.clock.now(), command.actor)
        )

    def register_brand(
        self,
        command: Command,
        group_id: UUID,
        code: str,
        name: str,
        time_zone: str,
        cadence: SettlementCadence,
    ) -> CommandResult:
        def new() -> Brand:
            self.reference(Group, group_id, "group_id")
            now = self.clock.now()
            return Brand.register(group_id, code, name, time_zone, cadence, now, command.actor)

        return self.create(command, new)

    def change_settlement_cadence(
        self,
        command: Command,
        brand_id: UUID,
        cadence: SettlementCadence,
        expected_version: int | None = None,
    ) -> CommandResult:
        """The new cadence starts after the current period ends (see the brand)."""

        def change(brand: Brand) -> None:
            brand.change_settlement_cadence(cadence, self.clock.now(), command.actor)

        return self.update(command, Brand, brand_id, expected_version, change)

    def register_region(
        self, command: Command, brand_id: UUID, code: str, name: str
    ) -> CommandResult:
        def new() -> Region:
            self.reference(Brand, brand_id, "brand_id")
            return Region.register(brand_id, code, name, self.clock.now(), command.actor)

        return self.create(command, new)

    def register_district(
        self, command: Command, brand_id: UUID, region_id: UUID, code: str, name: str
    ) -> CommandResult:
        def new() -> District:
            self._require_in_brand(self.reference(Region, region_id, "region_id"), brand_id)
            return District.register(
                brand_id, region_id, code, name, self.clock.now(), command.actor
            )

        return self.create(command, new)

    def register_branch(
        self, command: Command, brand_id: UUID, code: str, name: str
    ) -> CommandResult:
        def new() -> Branch:
            self.reference(Brand, brand_id, "brand_id")
            return Branch.register(brand_id, code, name, self.clock.now(), command.actor)

        return self.create(command, new)

    # --- nodes -----------------------------------------------------------------

    def register_node(
        self,
        command: Command,
        *,
        brand_id: UUID,
        branch_id: UUID,
        code: str,
        name: str,
        kind: NodeKind,
        location: GeoPoint,
        ownership: StoreOwnership | None = None,
        district_id: UUID | None = None,
        city: str | None = None,
    ) -> CommandResult:
        def new() -> Node:
            self._require_in_brand(self.reference(Branch, branch_id, "branch_id"), brand_id)
            if district_id is not None:
                district = self.reference(District, district_id, "district_id")
                self._require_in_brand(district, brand_id)
            return Node.register(
                brand_id=brand_id,
                branch_id=branch_id,
                code=code,
                name=name,
                kind=kind,
                location=location,
                ownership=ownership,
                district_id=district_id,
                city=city,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )

        return self.create(command, new)

    def pause_node(
        self, command: Command, node_id: UUID, reason: str, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Node,
            node_id,
            expected_version,
            lambda node: node.pause(reason, self.clock.now(), command.actor),
        )

    def resume_node(
        self, command: Command, node_id: UUID, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Node,
            node_id,
            expected_version,
            lambda node: node.resume(self.clock.now(), command.actor),
        )

    def set_node_daily_order_cap(
        self, command: Command, node_id: UUID, cap: int | None, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Node,
            node_id,
            expected_version,
            lambda node: node.set_daily_order_cap(cap, self.clock.now(), command.actor),
        )

    def set_store_opening_hours(
        self, command: Command, node_id: UUID, hours: OpeningHours, version: int | None = None
    ) -> CommandResult:
        def change(node: Node) -> None:
            node.set_opening_hours(hours, self.clock.now(), command.actor)

        return self.update(command, Node, node_id, version, change)

    # --- guides ----------------------------------------------------------------

    def hire_guide(
        self, command: Command, brand_id: UUID, code: str, name: str, store_id: UUID
    ) -> CommandResult:
        def new() -> Guide:
            self._require_store_of_brand(store_id, brand_id, "store_id")
            return Guide.hire(
                brand_id=brand_id,
                code=code,
                name=name,
                store_id=store_id,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )

        return self.create(command, new)

    def transfer_guide(
        self,
        command: Command,
        guide_id: UUID,
        to_store_id: UUID,
        expected_version: int | None = None,
    ) -> CommandResult:
        def change(guide: Guide) -> None:
            self._require_store_of_brand(to_store_id, guide.brand_id, "to_store_id")
            guide.transfer(to_store_id, self.clock.now(), command.actor)

        return self.update(command, Guide, guide_id, expected_version, change)

    def record_guide_left(
        self, command: Command, guide_id: UUID, reason: str, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Guide,
            guide_id,
            expected_version,
            lambda guide: guide.leave(reason, self.clock.now(), command.actor),
        )

    # --- catalogue and members ---------------------------------------------------

    def register_sku(
        self,
        command: Command,
        *,
        brand_id: UUID,
        code: str,
        name: str,
        category: str,
        price_fen: Fen,
    ) -> CommandResult:
        def new() -> Sku:
            self.reference(Brand, brand_id, "brand_id")
            return Sku.register(
                brand_id=brand_id,
                code=code,
                name=name,
                category=category,
                price_fen=price_fen,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )

        return self.create(command, new)

    def change_sku_price(
        self, command: Command, sku_id: UUID, price_fen: Fen, expected_version: int | None = None
    ) -> CommandResult:
        return self.update(
            command,
            Sku,
            sku_id,
            expected_version,
            lambda sku: sku.change_price(price_fen, self.clock.now(), command.actor),
        )

    def publish_promotion(
        self,
        command: Command,
        sku_id: UUID,
        *,
        name: str,
        price_fen: Fen,
        effective_from: datetime | None,
        effective_to: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Sku,
            sku_id,
            expected_version,
            lambda sku: sku.publish_promotion(
                name, price_fen, effective_from, effective_to, self.clock.now(), command.actor
            ),
        )

    def register_member(
        self,
        command: Command,
        *,
        group_id: UUID,
        member_no: str,
        name: str,
        phone: str,
        registered_at_store_id: UUID | None = None,
    ) -> CommandResult:
        def new() -> Member:
            self.reference(Group, group_id, "group_id")
            if registered_at_store_id is not None:
                store = self.reference(Node, registered_at_store_id, "registered_at_store_id")
                self._require_in_group(store.brand_id, group_id, "registered_at_store_id")
            member_no_given = require_text("member_no", member_no, 64)
            member_id = Member.create_id(group_id, member_no_given)
            return Member.register(
                group_id=group_id,
                member_id=member_id,
                member_no=self.vault.seal(member_id, member_no_given),
                name=self.vault.seal(member_id, require_text("name", name, 100)),
                phone=self.vault.seal(member_id, require_text("phone", phone, 32)),
                registered_at_store_id=registered_at_store_id,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )

        return self.create(command, new)

    def forget_member(self, command: Command, member_id: UUID, reason: str) -> CommandResult:
        """Deletes the member's key, then records it: their number, name, phone, delivery
        addresses and points, notes and reasons in every stored event become unreadable;
        orders, attribution and the ledger stay."""
        self.load(Member, member_id)
        self.vault.forget(member_id)
        return self.update(
            command,
            Member,
            member_id,
            None,
            lambda member: member.forget(reason, self.clock.now(), command.actor),
        )

    # --- snapshots for attribution ---------------------------------------------------

    def store_snapshot(self, store_id: UUID, field: str = "store_id") -> StoreSnapshot:
        """Where a store sits in the organisation (fixed when the store was registered)."""
        store = self.fact(Node, store_id, field)
        if store.kind is not NodeKind.STORE or store.district_id is None:
            raise RuleViolated(f"{field} names a warehouse, not a store", field=field)
        district = self.fact(District, store.district_id, "district_id")
        return StoreSnapshot(store.id, store.branch_id, district.id, district.region_id)

    def guide_snapshot(self, guide_id: UUID, field: str = "guide_id") -> GuideSnapshot:
        """A guide's status and store now (read fresh: both change)."""
        guide = self.reference(Guide, guide_id, field, for_change=False)
        return GuideSnapshot(guide.id, guide.is_active, self.store_snapshot(guide.store_id))

    # --- helpers -----------------------------------------------------------------

    def _require_in_brand(
        self, aggregate: Region | District | Branch | Node, brand_id: UUID
    ) -> None:
        if aggregate.brand_id != brand_id:
            raise RuleViolated(
                f"that {kind_name(type(aggregate))} belongs to another brand",
                id=str(aggregate.id),
            )

    def group_of_brand(self, brand_id: UUID, field: str = "brand_id") -> UUID:
        return self.fact(Brand, brand_id, field).group_id

    def require_member_of_brands_group(self, member_id: UUID, brand_id: UUID) -> None:
        """A member buys from, and is bound in, the brands of their own group only."""
        group_id = self.fact(Member, member_id, "member_id").group_id
        self._require_in_group(brand_id, group_id, "member_id")

    def _require_in_group(self, brand_id: UUID, group_id: UUID, field: str) -> None:
        if self.group_of_brand(brand_id) != group_id:
            raise RuleViolated(f"{field} belongs to another group", field=field)

    def _require_store_of_brand(self, store_id: UUID, brand_id: UUID, field: str) -> Node:
        node = self.reference(Node, store_id, field)
        self._require_in_brand(node, brand_id)
        if node.kind is not NodeKind.STORE:
            raise RuleViolated(f"{field} names a warehouse, not a store", field=field)
        return node
