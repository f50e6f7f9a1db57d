"""Whose is it: the one place that decides whether a caller may touch what a request names.

Every operation's `allow` dependency resolves the ids in the request's path to their
owners (group, brand, stores, guides, the frontend that placed an order) and admits the
caller only if the owner is theirs; routes whose body or query names more ids pass those
owners through the same `admit`. Another group's (or, for a caller narrowed to a brand,
another brand's) things answer 404, as if they did not exist; inside the caller's reach, a
personal thing of someone else answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from guideledger.api.auth import Caller, Forbidden, Role, current_caller
from guideledger.api.placement import LedgerDep
from guideledger.commissions.domain.rules import PayeeLevel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import UnknownReference
from guideledger.kernel.errors import NotFound
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide
from guideledger.organisation.domain.members import Member
from guideledger.organisation.domain.units import Branch, District, Node, Region


@dataclass(frozen=True)
class Owner:
    """Who a thing belongs to. A personal thing (a guide's, a store's, an order) is seen
    by guides and store managers only when it names them."""

    group_id: UUID
    brand_id: UUID | None = None
    personal: bool = False
    store_ids: frozenset[UUID] = frozenset()
    guide_ids: frozenset[UUID] = frozenset()
    placed_by: str | None = None  # the frontend that placed an order


def tenant(caller: Caller) -> UUID:
    """The caller's group: what a command without an owning id in its path acts in."""
    if caller.group_id is None:
        raise Forbidden("the platform's admins act inside no group")
    return caller.group_id


def admit(caller: Caller, owner: Owner) -> None:
    """Raises unless `caller` may touch what `owner` owns."""
    if caller.group_id != owner.group_id or (
        caller.brand_id is not None and owner.brand_id not in (None, caller.brand_id)
    ):
        raise NotFound("nothing of yours has that id")
    if caller.role is Role.FRONTEND and owner.placed_by not in (None, caller.actor):
        raise NotFound("nothing of yours has that id")
    if not owner.personal:
        return
    if caller.role is Role.GUIDE and caller.guide_id not in owner.guide_ids:
        raise Forbidden("a guide sees only their own data")
    if caller.role is Role.STORE_MANAGER and caller.store_id not in owner.store_ids:
        raise Forbidden("a store manager sees only their own store")


class Owners:
    """Finds the owner of what an id names, from facts fixed when it was registered (a
    brand's group, a node's or SKU's brand) and, for what moves, its current state."""

    def __init__(self, ledger: Ledger, viewer: Caller) -> None:
        self.ledger = ledger
        self.org = ledger.organisation
        self.viewer = viewer  # who asks: the caller admitted, and whose bindings matter
        self._orders: dict[UUID, Order] = {}

    def _order(self, order_id: UUID) -> Order:
        """The order as it stands, read once per request and not copied (only read)."""
        if order_id not in self._orders:
            self._orders[order_id] = self.ledger.orders.reference(
                Order, order_id, "order_id", for_change=False
            )
        return self._orders[order_id]

    def of_brand(self, brand_id: UUID) -> Owner:
        return Owner(self.org.fact(Brand, brand_id, "brand_id").group_id, brand_id)

    def of_member(self, member_id: UUID) -> Owner:
        """A member is the group's, and personal: of guides, only the one bound to them in
        the viewing guide's brand sees them."""
        group_id = self.org.fact(Member, member_id, "member_id").group_id
        guides = frozenset[UUID]()
        if self.viewer.role is Role.GUIDE and self.viewer.guide_id is not None:
            brand_id = self.org.fact(Guide, self.viewer.guide_id, "guide_id").brand_id
            binding = self.ledger.bindings.current(member_id, brand_id)
            guides = frozenset({binding.guide_id} if binding and binding.guide_id else ())
        return Owner(group_id, personal=True, guide_ids=guides)

    def of_sku(self, sku_id: UUID) -> Owner:
        return self.of_brand(self.org.fact(Sku, sku_id, "sku_id").brand_id)

    def of_unit(
        self, cls: type[Region | District | Branch], unit_id: UUID, personal: bool = False
    ) -> Owner:
        """A unit of the brand; as a payee, its money is none of a guide's or store's."""
        brand = self.of_brand(self.org.fact(cls, unit_id, "id").brand_id)
        return Owner(brand.group_id, brand.brand_id, personal=personal)

    def of_node(self, node_id: UUID) -> Owner:
        brand = self.of_brand(self.org.fact(Node, node_id, "node_id").brand_id)
        return Owner(brand.group_id, brand.brand_id, True, frozenset({node_id}))

    def of_guide(self, guide_id: UUID) -> Owner:
        """A guide's things are seen by the managers of every store it has worked in (what
        each of them sees of its statements is narrowed to their store's lines)."""
        guide = self.org.reference(Guide, guide_id, "guide_id", for_change=False)
        brand = self.of_brand(guide.brand_id)
        stores = guide.stores_served
        return Owner(brand.group_id, brand.brand_id, True, stores, frozenset({guide_id}))

    def of_shipment(self, order_id: UUID, shipment_id: str) -> Owner:
        """A shipment is its node's: only that store's manager records its delivery."""
        order = self._order(order_id)
        shipment = order.shipments.get(shipment_id)
        if shipment is None:
            raise NotFound(f"the order has no shipment {shipment_id!r}")
        brand = self.of_brand(order.brand_id)
        return Owner(brand.group_id, brand.brand_id, True, frozenset({shipment.node_id}))

    def store_of_order(self, order_id: UUID) -> UUID | None:
        """The store a sale was attributed to (where its commission was earned)."""
        attribution = self._order(order_id).attribution
        return attribution.store_id if attribution else None

    def of_order(self, order_id: UUID) -> Owner:
        order = self._order(order_id)
        brand = self.of_brand(order.brand_id)
        attribution = order.attribution
        stores = {shipment.node_id for shipment in order.shipments.values()}
        stores.update(a.node_id for a in (*order.allocations, *order.replacement_allocations))
        if attribution is not None and attribution.store_id is not None:
            stores.add(attribution.store_id)
        guides = {attribution.guide_id} if attribution and attribution.guide_id else set()
        return Owner(
            brand.group_id,
            brand.brand_id,
            True,
            frozenset(stores),
            frozenset(guides),
            order.placed_by,
        )

    def of_share(self, share_code: str) -> Owner:
        return self.of_guide(self.ledger.engagement.get_share(share_code).guide_id)

    def of_payee(self, level: str, payee_id: UUID) -> Owner:
        match PayeeLevel(level):
            case PayeeLevel.GUIDE:
                return self.of_guide(payee_id)
            case PayeeLevel.STORE:
                return self.of_node(payee_id)
            case PayeeLevel.DISTRICT:
                return self.of_unit(District, payee_id, personal=True)
            case PayeeLevel.REGION:
                return self.of_unit(Region, payee_id, personal=True)
            case PayeeLevel.BRANCH:
                return self.of_unit(Branch, payee_id, personal=True)

    def admit(self, **ids: UUID | None) -> None:
        """Admits the viewer to each id given by its parameter's name (None: not given).
        Unknown and not the viewer's answer alike, so neither reveals what exists."""
        for name, value in ids.items():
            if value is None:
                continue
            try:
                admit(self.viewer, self._by_parameter[name](self, value))
            except (UnknownReference, NotFound):
                raise NotFound(f"{name} names nothing of yours", field=name) from None

    def of_path(self, params: Mapping[str, str]) -> list[Owner]:
        """The owners of every id a request's path names. A malformed id is left for the
        operation's own validation to refuse; an unknown one is not found."""
        owners = []
        try:
            for name, find in self._by_parameter.items():
                if (found := _id(params.get(name))) is not None:
                    owners.append(find(self, found))
            payee_id, level = _id(params.get("payee_id")), params.get("level")
            if payee_id is not None and level in set(PayeeLevel):
                owners.append(self.of_payee(str(level), payee_id))
            if "share_code" in params:
                owners.append(self.of_share(params["share_code"]))
            order_id = _id(params.get("order_id"))
            if order_id is not None and "shipment_id" in params:
                owners.append(self.of_shipment(order_id, params["shipment_id"]))
        except UnknownReference as unknown:
            raise NotFound(unknown.detail) from None
        return owners

    _by_parameter: Mapping[str, Callable[[Owners, UUID], Owner]] = {
        "brand_id": of_brand,
        "member_id": of_member,
        "sku_id": of_sku,
        "node_id": of_node,
        "store_id": of_node,
        "guide_id": of_guide,
        "order_id": of_order,
        "region_id": lambda owners, unit_id: owners.of_unit(Region, unit_id),
        "district_id": lambda owners, unit_id: owners.of_unit(District, unit_id),
        "branch_id": lambda owners, unit_id: owners.of_unit(Branch, unit_id),
    }


def _id(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value is not None else None
    except ValueError:
        return None


def admit_path(ledger: Ledger, caller: Caller, params: Mapping[str, str]) -> None:
    """Admits `caller` to every id the path names (raises otherwise)."""
    for owner in Owners(ledger, caller).of_path(params):
        admit(caller, owner)


TENANT_ROLES = tuple(role for role in Role if role is not Role.PLATFORM_ADMIN)


def allow(*roles: Role) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting these roles (and the group's admins) to what the path names."""
    return _gate(frozenset({*roles, Role.ADMIN}))


def allow_platform() -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting only the platform's admins: operations across tenants."""
    return _gate(frozenset({Role.PLATFORM_ADMIN}))


def _gate(admitted: frozenset[Role]) -> Callable[..., Coroutine[Any, Any, Caller]]:
    async def check(
        request: Request,
        caller: Annotated[Caller, Depends(current_caller)],
        ledger: LedgerDep,
    ) -> Caller:
        if caller.role not in admitted:
            raise Forbidden(
                f"a {caller.role} may not do this", allowed=sorted(str(r) for r in admitted)
            )
        if request.path_params and caller.role is not Role.PLATFORM_ADMIN:
            await run_in_threadpool(admit_path, ledger, caller, request.path_params)
        return caller

    return check


anyone = allow(*TENANT_ROLES)
