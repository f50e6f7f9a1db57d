"""One demo order's life: placed through the guide and channel the demand picks (after the
guide's shares), paid, shipped, delivered, and sometimes cancelled, returned or exchanged."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from guideledger.api.demo_demand import SHARE_KINDS, Demand
from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.engagement.domain import ShareKind
from guideledger.eventstore.commands import Command
from guideledger.fulfilment.domain.routing import Allocation
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.app import DeliveryRequest, LineRequest, OrderApplication
from guideledger.orders.domain.lines import Discount
from guideledger.orders.domain.payments import ProviderPayment

if TYPE_CHECKING:
    from guideledger.api.demo import DemoWorld

COUPON_THRESHOLD_FEN, COUPON_FEN = 19_900, 2_000


def order_story(ledger: Ledger, world: DemoWorld, demand: Demand, live: bool, n: int) -> None:
    """Places one order and takes it as far through its life as chance says."""
    orders, cmd, rng = ledger.orders, Command(f"frontend:mall-{n % 7}"), demand.rng
    order_id, lines = _place_order(ledger, world, demand, live, n, cmd)
    fate = rng.random()
    if fate < 0.06:
        return  # left unpaid: the payment-window sweep will cancel it
    if fate < 0.10:
        orders.cancel(cmd, order_id, "customer changed their mind")
        return
    total = orders.get_order(order_id).total_fen
    orders.pay(ProviderPayment(f"WX{n:010d}", order_id, total, ledger.clock.now()))
    allocations = orders.get_order(order_id).allocations
    if fate < 0.15 or not allocations:
        return
    parcels = _ship(orders, order_id, allocations, n)
    if fate < 0.25:
        return
    for parcel in parcels:
        orders.deliver(Command("carrier:sf-express"), order_id, parcel)
    if fate >= 0.93:
        _return_one_item(orders, cmd, order_id, lines, rng, n)
    elif fate >= 0.89:
        _exchange_one_item(ledger, world, cmd, order_id, lines, allocations[0].node_id, n)


def _place_order(
    ledger: Ledger, world: DemoWorld, demand: Demand, live: bool, n: int, cmd: Command
) -> tuple[UUID, list[LineRequest]]:
    """A member orders one to three SKUs through a guide and channel `demand` picks, for
    delivery near the guide's store; every eighth order of CNY 199 or more takes CNY 20
    off with a coupon."""
    rng = demand.rng
    (guide_id, store_id), channel = demand.buyer_of(live)
    store_location = world.store_locations[store_id]
    picked = rng.sample(world.skus, k=rng.choice([1, 1, 2, 2, 3]))
    evidence = _evidence(ledger, demand, channel, guide_id, store_id, picked[0][0])
    lines = [LineRequest(sku, rng.choice([1, 1, 1, 2, 3]), price) for sku, price in picked]
    city, near = world.store_cities[store_id], store_location
    if rng.random() < demand.cross_city:
        city = rng.choice([c for c in world.cities if c != city])
        near = world.cities[city]
    delivery = DeliveryRequest(
        f"收货地址 Address {n}",
        GeoPoint(near.latitude + rng.uniform(-0.3, 0.3), near.longitude + rng.uniform(-0.3, 0.3)),
        city,
    )
    order_id = ledger.orders.place_order(
        cmd,
        brand_id=world.brand_id,
        member_id=rng.choice(world.members),
        lines=lines,
        delivery=delivery,
        evidence=evidence,
        discounts=_coupon(n, lines),
    ).id
    return order_id, lines


def _coupon(n: int, lines: list[LineRequest]) -> list[Discount]:
    lines_fen = sum(line.quantity * line.unit_price_fen for line in lines)
    if n % 8 or lines_fen < COUPON_THRESHOLD_FEN:
        return []
    return [Discount("满199减20 coupon", COUPON_FEN)]


def _evidence(
    ledger: Ledger,
    demand: Demand,
    channel: Channel,
    guide_id: UUID,
    store_id: UUID,
    sku_id: UUID,
) -> AttributionEvidence:
    """What the frontend saw; a sale through a guide's share follows the share."""
    share_code = None
    if channel in SHARE_KINDS:
        share_code = _share(ledger, demand, guide_id, sku_id, channel)
    return AttributionEvidence(
        channel=channel,
        guide_id=guide_id if channel not in {Channel.STORE_ACCOUNT, Channel.DIRECT} else None,
        store_id=store_id if channel is Channel.STORE_ACCOUNT else None,
        share_code=share_code,
        guide_note="导购 Guide 3" if channel is Channel.STORE_ACCOUNT else None,
    )


def _ship(
    orders: OrderApplication, order_id: UUID, allocations: Sequence[Allocation], n: int
) -> list[str]:
    """Each allocated node ships its lines in one parcel; returns the parcels' ids."""
    parcels = []
    for p, allocation in enumerate(allocations, start=1):
        parcel = f"SHP-{n:06d}-{p}"
        quantities = {line.line_no: line.quantity for line in allocation.lines}
        orders.ship(
            Command(f"node:{allocation.node_id}"), order_id, parcel, allocation.node_id, quantities
        )
        parcels.append(parcel)
    return parcels


def _return_one_item(
    orders: OrderApplication,
    cmd: Command,
    order_id: UUID,
    lines: list[LineRequest],
    rng: random.Random,
    n: int,
) -> None:
    """The customer sends back one unit of a line chance picks and is refunded what it
    paid for it."""
    line_no = rng.randint(1, len(lines))
    orders.return_items(
        cmd,
        order_id,
        return_id=f"RET-{n:06d}",
        line_no=line_no,
        quantity=1,
        reason="尺码不合适 size",
    )
    orders.refund(cmd, order_id, f"REF-{n:06d}", orders.get_order(order_id).refundable_fen)


def _share(ledger: Ledger, demand: Demand, guide_id: UUID, sku_id: UUID, channel: Channel) -> str:
    """The share a sale comes through, after the shares of the guide's that bring nothing;
    people visit and add to carts. A streamer's live stream is one share all evening."""
    engagement, guide, mall = ledger.engagement, Command(f"guide:{guide_id}"), Command("mall")
    rng, kind = demand.rng, SHARE_KINDS[channel]
    for _ in range(demand.idle_shares(guide_id)):
        _result, idle = engagement.share(guide, guide_id, kind, sku_id)
        if rng.random() < 0.5:
            engagement.record_visits(mall, idle, rng.randint(1, 4))
    if kind is ShareKind.LIVE_STREAM and guide_id in demand.live_codes:
        code = demand.live_codes[guide_id]
    else:
        _result, code = engagement.share(guide, guide_id, kind, sku_id)
        if kind is ShareKind.LIVE_STREAM:
            demand.live_codes[guide_id] = code
    engagement.record_visits(mall, code, rng.randint(1, 12))
    engagement.record_add_to_carts(mall, code, rng.randint(1, 3))
    return code


def _exchange_one_item(
    ledger: Ledger,
    world: DemoWorld,
    cmd: Command,
    order_id: UUID,
    lines: list[LineRequest],
    received_at: UUID,
    n: int,
) -> None:
    """The customer swaps one unit of the first line for another SKU at the same price
    (换货), where the catalogue has one."""
    line = lines[0]
    same_price = [s for s, p in world.skus if p == line.unit_price_fen and s != line.sku_id]
    if not same_price:
        return
    ledger.exchanges.exchange(
        cmd,
        order_id,
        exchange_id=f"EXC-{n:06d}",
        line_no=1,
        quantity=1,
        sku_id=same_price[n % len(same_price)],
        received_at_node_id=received_at,
    )
