"""Attribution stories from DOMAIN.md, and rankings against hand-computed figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import pytest

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import AttributionChannel, AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.engagement.domain import ShareKind
from guideledger.eventstore.commands import Command
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.organisation.domain.units import NodeKind, StoreOwnership
from guideledger.platform.clock import ManualClock
from guideledger.rankings.application.rankings import GuideMeasure, StoreMeasure
from tests.world import ADMIN, GROUP_ID, PRICES, SHANGHAI, World, build_world, pay, receive

DAY = date(2026, 11, 2)  # the world's clock starts at 09:00 on this day in Shanghai
BEIJING = GeoPoint(39.9042, 116.4074)


@dataclass(frozen=True)
class North:
    branch_id: UUID
    store_id: UUID
    guide_id: UUID


def add_north(ledger: Ledger, world: World) -> North:
    """A second branch with a Beijing store and its guide."""
    org = ledger.organisation
    branch = org.register_branch(ADMIN, world.brand_id, "NORTH", "North China").id
    region = org.register_region(ADMIN, world.brand_id, "R-NORTH", "North").id
    district = org.register_district(ADMIN, world.brand_id, region, "D-BJ", "Beijing").id
    store = org.register_node(
        ADMIN,
        brand_id=world.brand_id,
        branch_id=branch,
        code="S-BJ-01",
        name="Beijing 1",
        kind=NodeKind.STORE,
        location=BEIJING,
        ownership=StoreOwnership.DIRECT,
        district_id=district,
    ).id
    guide = org.hire_guide(ADMIN, world.brand_id, "G-BJ-1", "Zhang Wei", store).id
    return North(branch, store, guide)


def buy(
    ledger: Ledger,
    world: World,
    evidence: AttributionEvidence,
    quantities: tuple[int, ...],
    member_id: UUID | None = None,
) -> UUID:
    """Places and pays an order at list price; returns its id."""
    lines = [
        LineRequest(sku, q, price)
        for sku, q, price in zip(world.sku_ids, quantities, PRICES, strict=False)
    ]
    order_id = ledger.orders.place_order(
        Command("frontend"),
        brand_id=world.brand_id,
        member_id=member_id or world.member_id,
        lines=lines,
        delivery=DeliveryRequest("somewhere", SHANGHAI),
        evidence=evidence,
    ).id
    total = sum(q * p for q, p in zip(quantities, PRICES, strict=False))
    pay(ledger, order_id, total)
    return order_id


def new_member(ledger: Ledger, number: str) -> UUID:
    return ledger.organisation.register_member(
        ADMIN, group_id=GROUP_ID, member_no=number, name=f"Member {number}", phone="13800000000"
    ).id


def link(guide_id: UUID, channel: Channel = Channel.GUIDE_SHARE_LINK) -> AttributionEvidence:
    return AttributionEvidence(channel, guide_id=guide_id)


def attribution_of(ledger: Ledger, order_id: UUID):  # type: ignore[no-untyped-def]
    return ledger.orders.get_order(order_id).attribution


@pytest.fixture
def world(ledger: Ledger) -> World:
    world = build_world(ledger)
    for sku_id in world.sku_ids:
        receive(ledger, world.warehouse_id, sku_id, 100)
    return world


def test_live_stream_forwarded_by_guides_of_two_branches(ledger: Ledger, world: World) -> None:
    """A national live stream is forwarded by guides to their own stores' customers:
    each order belongs to the forwarding guide and to that guide's branch."""
    north = add_north(ledger, world)
    east_order = buy(ledger, world, link(world.guide_id, Channel.LIVE_STREAM_FORWARD), (1,))
    north_order = buy(ledger, world, link(north.guide_id, Channel.LIVE_STREAM_FORWARD), (1, 1))

    east, north_attr = attribution_of(ledger, east_order), attribution_of(ledger, north_order)
    assert (east.guide_id, east.branch_id) == (world.guide_id, world.branch_id)
    assert (north_attr.guide_id, north_attr.branch_id) == (north.guide_id, north.branch_id)
    assert east.channel is AttributionChannel.LIVE_STREAM_FORWARD

    by_branch = {
        branch: ledger.rankings.daily_sales(world.brand_id, DAY, DAY, branch_id=branch)[0].sales
        for branch in (world.branch_id, north.branch_id)
    }
    assert by_branch[world.branch_id].sales_fen == PRICES[0]
    assert by_branch[north.branch_id].sales_fen == PRICES[0] + PRICES[1]
    assert by_branch[north.branch_id].online_sales_fen == PRICES[0] + PRICES[1]


def test_a_store_account_order_naming_a_guide_counts_for_that_guide(
    ledger: Ledger, world: World
) -> None:
    named = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note=" wang fang "
    )
    unknown = AttributionEvidence(
        Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note="Nobody"
    )
    by_name = buy(ledger, world, named, (1,))
    by_nobody = buy(ledger, world, unknown, (1,), member_id=new_member(ledger, "M-2"))

    assert attribution_of(ledger, by_name).channel is AttributionChannel.STORE_ACCOUNT_GUIDE
    assert attribution_of(ledger, by_name).guide_id == world.guide_id
    fallback = attribution_of(ledger, by_nobody)
    assert (fallback.channel, fallback.guide_id, fallback.store_id) == (
        AttributionChannel.STORE_ONLY,
        None,
        world.store_id,
    )


def test_a_guide_transferred_mid_month_keeps_earlier_sales_with_the_old_store(
    ledger: Ledger, world: World, clock: ManualClock
) -> None:
    before = buy(ledger, world, link(world.guide_id), (1,))
    clock.advance(timedelta(days=8))
    ledger.organisation.transfer_guide(ADMIN, world.guide_id, world.other_store_id)
    clock.advance(timedelta(days=5))
    after = buy(ledger, world, link(world.guide_id), (1,))

    assert attribution_of(ledger, before).store_id == world.store_id
    assert attribution_of(ledger, after).store_id == world.other_store_id
    old_store = ledger.rankings.daily_sales(world.brand_id, DAY, DAY, store_id=world.store_id)
    assert old_store[0].sales.sales_fen == PRICES[0]
    later = DAY + timedelta(days=13)
    new_store = ledger.rankings.daily_sales(
        world.brand_id, later, later, store_id=world.other_store_id
    )
    assert new_store[0].sales.sales_fen == PRICES[0]


def test_a_guide_who_left_takes_no_sale_and_no_member_along(ledger: Ledger, world: World) -> None:
    buy(ledger, world, link(world.guide_id), (1,))
    binding_id = MemberBinding.create_id(world.member_id, world.brand_id)
    assert ledger.orders.load(MemberBinding, binding_id).guide_id == world.guide_id

    ledger.organisation.record_guide_left(ADMIN, world.guide_id, "resigned")
    ledger.projections.process_all()  # the departure process releases the bindings
    assert ledger.orders.load(MemberBinding, binding_id).guide_id is None

    after = attribution_of(ledger, buy(ledger, world, link(world.guide_id), (1,)))
    assert (after.channel, after.guide_id, after.store_id) == (
        AttributionChannel.STORE_ONLY,
        None,
        world.store_id,
    )
    history = ledger.bindings.history(world.member_id, world.brand_id)
    assert [h.event for h in history] == ["Bound", "Released"]


def test_a_bound_member_buying_without_a_link_counts_for_the_bound_guide(
    ledger: Ledger, world: World
) -> None:
    buy(ledger, world, link(world.guide_id), (1,))
    direct = buy(ledger, world, AttributionEvidence(Channel.DIRECT), (1,))
    assert attribution_of(ledger, direct).channel is AttributionChannel.BOUND_GUIDE
    assert attribution_of(ledger, direct).guide_id == world.guide_id


def test_rankings_match_hand_computed_figures(
    ledger: Ledger, world: World, clock: ManualClock
) -> None:
    """SH: 12,900 + 31,700 paid, 5,900 refunded → net 38,700 (all online)
    HZ: a store-account order of 44,600 → net 44,600, online 0
    BJ: 18,800 through a guide's QR code → net 18,800 (online)"""
    north = add_north(ledger, world)
    zhao = ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-002", "Zhao Lei", world.store_id
    ).id
    _, code = ledger.engagement.share(Command("guide"), zhao, ShareKind.PRODUCT_LINK)
    ledger.engagement.share(Command("guide"), zhao, ShareKind.QR_CODE)
    ledger.engagement.record_visits(Command("mall"), code, 5)

    through_share = AttributionEvidence(Channel.GUIDE_SHARE_LINK, guide_id=zhao, share_code=code)
    store_account = AttributionEvidence(Channel.STORE_ACCOUNT, store_id=world.other_store_id)
    buy(ledger, world, through_share, (1,), new_member(ledger, "M-2"))
    refunded = buy(ledger, world, link(world.guide_id), (2, 1), new_member(ledger, "M-3"))
    buy(ledger, world, store_account, (3, 1), new_member(ledger, "M-4"))
    buy(ledger, world, link(north.guide_id, Channel.GUIDE_QR), (1, 1), new_member(ledger, "M-5"))
    ship_and_refund_line_2(ledger, refunded)

    clock.set(clock.now() + timedelta(days=1))  # the next morning: "yesterday" is DAY
    total = ledger.rankings.stores(world.brand_id, None, StoreMeasure.TOTAL)
    assert [(r.rank, r.store_id, r.sales.net_sales_fen) for r in total] == [
        (1, world.other_store_id, 44_600),
        (2, world.store_id, 38_700),
        (3, north.store_id, 18_800),
    ]
    online = ledger.rankings.stores(world.brand_id, None, StoreMeasure.ONLINE)
    assert [(r.store_id, r.sales.online_sales_fen) for r in online] == [
        (world.store_id, 44_600),
        (north.store_id, 18_800),
        (world.other_store_id, 0),
    ]
    by_sales = ledger.rankings.guides(world.brand_id, None, store_id=world.store_id)
    assert [(g.guide_id, g.sales.net_sales_fen) for g in by_sales] == [
        (world.guide_id, 25_800),
        (zhao, 12_900),
    ]
    by_share_rate = ledger.rankings.guides(
        world.brand_id, None, district_id=world.district_id, measure=GuideMeasure.SHARE_RATE
    )
    assert (by_share_rate[0].guide_id, by_share_rate[0].shares, by_share_rate[0].share_rate) == (
        zhao,
        2,
        0.5,
    )
    funnel = ledger.rankings.funnel(world.brand_id, zhao, DAY, DAY)[0]
    assert (funnel.shares, funnel.visits, funnel.share_orders) == (2, 5, 1)
    share_funnel = ledger.rankings.share(code)
    assert share_funnel is not None
    assert share_funnel.payments == 1


def ship_and_refund_line_2(ledger: Ledger, order_id: UUID) -> None:
    order = ledger.orders.get_order(order_id)
    for n, allocation in enumerate(order.allocations):
        quantities = {line.line_no: line.quantity for line in allocation.lines}
        ledger.orders.ship(Command("node"), order_id, f"p{n}", allocation.node_id, quantities)
        ledger.orders.deliver(Command("carrier"), order_id, f"p{n}")
    ledger.orders.return_items(
        Command("support"), order_id, return_id="r1", line_no=2, quantity=1, reason="colour"
    )
    ledger.orders.refund(Command("finance"), order_id, "f1", PRICES[1])
