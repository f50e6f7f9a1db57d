"""A small organisation to run commands against, built through the applications."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.eventstore.recorder import events_after
from guideledger.kernel.periods import SettlementCadence
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.orders.domain.payments import ProviderPayment
from guideledger.organisation.domain.group import Group
from guideledger.organisation.domain.members import Member
from guideledger.organisation.domain.units import NodeKind, StoreOwnership

GROUP_ID = Group.create_id("ACME-GROUP")
ADMIN = Command("admin:test")
FRONTEND = Command("frontend:test")
SHANGHAI = GeoPoint(31.2304, 121.4737)
HANGZHOU = GeoPoint(30.2741, 120.1551)
PRICES = (12_900, 5_900)


@dataclass(frozen=True)
class World:
    brand_id: UUID
    branch_id: UUID
    district_id: UUID
    store_id: UUID
    other_store_id: UUID
    warehouse_id: UUID
    guide_id: UUID
    sku_ids: tuple[UUID, UUID]
    member_id: UUID


STORE_STOCK = 20


def ensure_group(ledger: Ledger, code: str = "ACME-GROUP") -> UUID:
    """The group the test's brands belong to (registered on first use)."""
    group_id = Group.create_id(code)
    if not ledger.organisation.exists(Group, group_id):
        ledger.organisation.register_group(ADMIN, code, code)
    return group_id


def build_world(
    ledger: Ledger,
    stocked: bool = True,
    cadence: SettlementCadence = SettlementCadence.MONTHLY,
    code: str = "ACME",
    group_code: str = "ACME-GROUP",
) -> World:
    """A brand with two stores and a warehouse; `stocked` puts 20 of each SKU in the first store.
    Another `code` makes another brand of the group, with the group's same member."""
    org = ledger.organisation
    group_id = ensure_group(ledger, group_code)
    name = "Acme Sport" if code == "ACME" else f"{code} Sport"
    brand_id = org.register_brand(ADMIN, group_id, code, name, "Asia/Shanghai", cadence).id
    region_id = org.register_region(ADMIN, brand_id, "R-EAST", "East").id
    district_id = org.register_district(ADMIN, brand_id, region_id, "D-SH", "Shanghai").id
    branch_id = org.register_branch(ADMIN, brand_id, "EAST", "East China").id

    def store(code: str, location: GeoPoint) -> UUID:
        return org.register_node(
            ADMIN,
            brand_id=brand_id,
            branch_id=branch_id,
            code=code,
            name=code,
            kind=NodeKind.STORE,
            location=location,
            ownership=StoreOwnership.DIRECT,
            district_id=district_id,
        ).id

    store_id, other_store_id = store("S-SH-01", SHANGHAI), store("S-HZ-01", HANGZHOU)
    warehouse_id = org.register_node(
        ADMIN,
        brand_id=brand_id,
        branch_id=branch_id,
        code="WH-SH",
        name="Shanghai DC",
        kind=NodeKind.WAREHOUSE,
        location=SHANGHAI,
    ).id
    guide_id = org.hire_guide(ADMIN, brand_id, "G-001", "Wang Fang", store_id).id
    sku_ids = tuple(
        org.register_sku(
            ADMIN,
            brand_id=brand_id,
            code=f"SKU-{n}",
            name=f"SKU {n}",
            category="footwear",
            price_fen=price,
        ).id
        for n, price in enumerate(PRICES, start=1)
    )
    member_id = Member.create_id(group_id, "M0001")
    if not org.exists(Member, member_id):
        org.register_member(
            ADMIN, group_id=group_id, member_no="M0001", name="Li Lei", phone="13800000001"
        )
    world = World(
        brand_id,
        branch_id,
        district_id,
        store_id,
        other_store_id,
        warehouse_id,
        guide_id,
        (sku_ids[0], sku_ids[1]),
        member_id,
    )
    if stocked:
        for sku_id in world.sku_ids:
            receive(ledger, store_id, sku_id, STORE_STOCK)
    return world


def receive(ledger: Ledger, node_id: UUID, sku_id: UUID, quantity: int) -> None:
    ledger.stock.receive(ADMIN, node_id, sku_id, quantity, "ASN-TEST")


def place_order(
    ledger: Ledger,
    world: World,
    quantities: tuple[int, ...] = (2, 1),
    command: Command = FRONTEND,
) -> CommandResult:
    """An order through the guide's share link: quantities per SKU, at list price."""
    return ledger.orders.place_order(
        command,
        brand_id=world.brand_id,
        member_id=world.member_id,
        lines=[
            LineRequest(sku_id, quantity, price)
            for sku_id, quantity, price in zip(world.sku_ids, quantities, PRICES, strict=False)
        ],
        delivery=DeliveryRequest("1 Nanjing Road, Shanghai", SHANGHAI),
        evidence=AttributionEvidence(Channel.GUIDE_SHARE_LINK, guide_id=world.guide_id),
    )


def pay(
    ledger: Ledger,
    order_id: UUID,
    amount_fen: int | None = None,
    transaction_id: str | None = None,
) -> CommandResult:
    """The payment provider reports the order paid now, in full unless `amount_fen` says
    otherwise, in a transaction of its own unless `transaction_id` names one."""
    if amount_fen is None:
        amount_fen = ledger.orders.get_order(order_id).total_fen
    payment = ProviderPayment(
        transaction_id or f"wx-{order_id.hex}", order_id, amount_fen, ledger.clock.now()
    )
    return ledger.orders.pay(payment)


def order_total(quantities: tuple[int, ...] = (2, 1)) -> int:
    return sum(q * p for q, p in zip(quantities, PRICES, strict=False))


def event_count(ledger: Ledger) -> int:
    """Events stored by all applications together."""
    applications = (ledger.organisation, ledger.orders, ledger.engagement, ledger.commissions)
    return sum(events_after(app.recorder) for app in applications)


def add_stocked_northern_warehouse(ledger: Ledger, world: World) -> tuple[UUID, UUID]:
    """A second branch whose Beijing warehouse holds 10 of each SKU: (branch, warehouse)."""
    branch_id = ledger.organisation.register_branch(ADMIN, world.brand_id, "NORTH", "North").id
    warehouse_id = ledger.organisation.register_node(
        ADMIN,
        brand_id=world.brand_id,
        branch_id=branch_id,
        code="WH-BJ",
        name="Beijing DC",
        kind=NodeKind.WAREHOUSE,
        location=GeoPoint(39.9, 116.4),
    ).id
    for sku_id in world.sku_ids:
        receive(ledger, warehouse_id, sku_id, 10)
    return branch_id, warehouse_id
