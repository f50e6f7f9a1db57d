"""Routing, reservations and the unroutable queue, on every backend."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.fulfilment.application.stock_control import StockControl
from guideledger.fulfilment.domain.daily_load import NodeDailyLoad
from guideledger.fulfilment.domain.routing import LineDemand, Outcome, RoutingPolicy
from guideledger.kernel.errors import RuleViolated
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence
from tests.conftest import make_settings
from tests.world import (
    ADMIN,
    FRONTEND,
    GROUP_ID,
    SHANGHAI,
    STORE_STOCK,
    add_stocked_northern_warehouse,
    build_world,
    pay,
    place_order,
    receive,
)

POSITIONS = ("stock_availability", "node_directory", "node_daily_loads")


def availability(ledger: Ledger, node_id: UUID) -> dict[UUID, tuple[int, int]]:
    """(on hand, reserved) per SKU at a node, from the routing read model."""
    positions = ledger.stock.positions(node_id=node_id)
    return {p.sku_id: (p.on_hand, p.reserved) for p in positions}


def test_placing_allocates_to_the_stocked_store_and_reserves(ledger: Ledger) -> None:
    world = build_world(ledger)
    order = ledger.orders.get_order(place_order(ledger, world).id)
    assert [a.node_id for a in order.allocations] == [world.store_id]
    assert availability(ledger, world.store_id) == {
        world.sku_ids[0]: (STORE_STOCK, 2),
        world.sku_ids[1]: (STORE_STOCK, 1),
    }


def test_the_warehouse_ships_when_store_and_warehouse_share_a_band(ledger: Ledger) -> None:
    world = build_world(ledger)
    for sku_id in world.sku_ids:
        receive(ledger, world.warehouse_id, sku_id, 10)
    decision = ledger.orders.get_order(place_order(ledger, world).id).routing
    assert decision is not None
    assert [a.node_id for a in decision.allocations] == [world.warehouse_id]
    store = next(c for c in decision.candidates if c.node_id == world.store_id)
    assert store.reason == "ships every line, but a warehouse in the same band ships first"


def test_a_paused_store_is_passed_over_with_the_reason(ledger: Ledger) -> None:
    world = build_world(ledger)
    receive(ledger, world.other_store_id, world.sku_ids[0], 5)
    receive(ledger, world.other_store_id, world.sku_ids[1], 5)
    ledger.organisation.pause_node(ADMIN, world.store_id, "no staff today")
    decision = ledger.orders.get_order(place_order(ledger, world).id).routing
    assert decision is not None
    assert [a.node_id for a in decision.allocations] == [world.other_store_id]
    paused = next(c for c in decision.candidates if c.node_id == world.store_id)
    assert (paused.outcome, paused.reason) == (Outcome.EXCLUDED, "paused")


def test_an_order_no_node_can_ship_waits_and_is_routed_when_stock_arrives(ledger: Ledger) -> None:
    world = build_world(ledger, stocked=False)
    order_id = place_order(ledger, world).id
    assert ledger.orders.get_order(order_id).awaiting_stock
    [waiting] = ledger.waiting_orders.of_brand(world.brand_id)
    assert waiting.order_id == order_id
    assert waiting.reason.startswith("not enough stock on nodes that can ship")

    receive(ledger, world.other_store_id, world.sku_ids[0], 2)
    assert ledger.orders.get_order(order_id).awaiting_stock
    receive(ledger, world.other_store_id, world.sku_ids[1], 1)
    order = ledger.orders.get_order(order_id)
    assert [a.node_id for a in order.allocations] == [world.other_store_id]
    assert ledger.waiting_orders.of_brand(world.brand_id) == []
    assert availability(ledger, world.other_store_id)[world.sku_ids[1]] == (1, 1)


def test_stock_received_stays_received_when_routing_waiting_orders_fails(
    ledger: Ledger,
) -> None:
    world = build_world(ledger, stocked=False)

    def broken_router(_brand_id: UUID) -> None:
        raise RuntimeError("router down")

    stock = StockControl(ledger.orders, ledger.organisation, ledger.projections, broken_router)
    stock.receive(Command("wms"), world.store_id, world.sku_ids[0], 4, "ASN-1")
    assert availability(ledger, world.store_id) == {world.sku_ids[0]: (4, 0)}


def test_a_waiting_order_can_be_cancelled_and_leaves_the_queue(ledger: Ledger) -> None:
    world = build_world(ledger, stocked=False)
    order_id = place_order(ledger, world).id
    ledger.orders.cancel(FRONTEND, order_id, "no longer needed")
    assert ledger.waiting_orders.of_brand(world.brand_id) == []


def test_cancel_and_expiry_release_the_reservations(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    cancelled = place_order(ledger, world).id
    expiring = place_order(ledger, world, quantities=(1, 1)).id
    assert availability(ledger, world.store_id)[world.sku_ids[0]] == (STORE_STOCK, 3)
    ledger.orders.cancel(FRONTEND, cancelled, "changed mind")
    clock.advance(timedelta(minutes=31))
    assert ledger.orders.expire_unpaid_orders() == [expiring]
    assert availability(ledger, world.store_id) == {
        world.sku_ids[0]: (STORE_STOCK, 0),
        world.sku_ids[1]: (STORE_STOCK, 0),
    }


def test_shipping_takes_units_off_the_shelf_and_returns_put_them_back(ledger: Ledger) -> None:
    world = build_world(ledger)
    order_id = place_order(ledger, world).id
    pay(ledger, order_id)
    ledger.orders.ship(FRONTEND, order_id, "p1", world.store_id, {1: 2, 2: 1})
    assert availability(ledger, world.store_id)[world.sku_ids[0]] == (STORE_STOCK - 2, 0)
    ledger.orders.deliver(FRONTEND, order_id, "p1")
    ledger.orders.return_items(
        FRONTEND, order_id, return_id="r1", line_no=1, quantity=1, reason="too small"
    )
    assert availability(ledger, world.store_id)[world.sku_ids[0]] == (STORE_STOCK - 1, 0)


def test_a_daily_order_cap_sends_further_orders_elsewhere(ledger: Ledger) -> None:
    world = build_world(ledger)
    ledger.organisation.set_node_daily_order_cap(ADMIN, world.store_id, 1)
    first = ledger.orders.get_order(place_order(ledger, world).id)
    second = ledger.orders.get_order(place_order(ledger, world).id)
    assert [a.node_id for a in first.allocations] == [world.store_id]
    assert second.awaiting_stock
    assert second.routing is not None
    assert "at their daily cap" in second.routing.reason


def test_routing_counts_capped_nodes_from_the_read_model_and_reads_one_load(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a cap on every node, an order reads one daily load: the one it takes."""
    world = build_world(ledger)
    nodes = {world.store_id, world.other_store_id, world.warehouse_id}
    for node_id in nodes:
        receive(ledger, node_id, world.sku_ids[0], 5)
        receive(ledger, node_id, world.sku_ids[1], 5)
        ledger.organisation.set_node_daily_order_cap(ADMIN, node_id, 1)
    repository = ledger.orders.repository
    kinds_read: list[type] = []
    get_kind = repository.get_kind

    def spy(cls: type[Any], aggregate_id: UUID, for_change: bool = True) -> Any:
        kinds_read.append(cls)
        return get_kind(cls, aggregate_id, for_change)

    monkeypatch.setattr(repository, "get_kind", spy)
    orders = [ledger.orders.get_order(place_order(ledger, world).id) for _ in range(4)]

    assert {a.node_id for order in orders[:3] for a in order.allocations} == nodes
    assert orders[3].awaiting_stock
    assert orders[3].routing is not None
    assert "at their daily cap" in orders[3].routing.reason
    assert kinds_read.count(NodeDailyLoad) == 3


def test_a_split_order_ships_from_each_allocated_node(ledger: Ledger) -> None:
    world = build_world(ledger, stocked=False)
    receive(ledger, world.store_id, world.sku_ids[0], 2)
    receive(ledger, world.other_store_id, world.sku_ids[1], 1)
    order_id = place_order(ledger, world).id
    order = ledger.orders.get_order(order_id)
    assert {a.node_id for a in order.allocations} == {world.store_id, world.other_store_id}
    pay(ledger, order_id)
    with pytest.raises(RuleViolated):
        ledger.orders.ship(FRONTEND, order_id, "p1", world.store_id, {2: 1})
    ledger.orders.ship(FRONTEND, order_id, "p1", world.store_id, {1: 2})
    ledger.orders.ship(FRONTEND, order_id, "p2", world.other_store_id, {2: 1})


def test_cross_branch_fulfilment_is_visible_on_the_allocation(ledger: Ledger) -> None:
    world = build_world(ledger, stocked=False)
    _north, beijing = add_stocked_northern_warehouse(ledger, world)
    order = ledger.orders.get_order(place_order(ledger, world).id)
    assert order.selling_branch_id == world.branch_id
    [allocation] = order.allocations
    assert allocation.node_id == beijing
    assert order.is_cross_branch(allocation)


def test_published_policy_versions_take_effect_when_due(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger)
    for sku_id in world.sku_ids:
        receive(ledger, world.warehouse_id, sku_id, 10)
    draft = RoutingPolicy(prefer_warehouse=False, effective_from=clock.now() + timedelta(hours=1))
    assert ledger.routing.publish_policy(ADMIN, world.brand_id, draft).version == 1
    before = ledger.orders.get_order(place_order(ledger, world).id).routing
    clock.advance(timedelta(hours=1))
    after = ledger.orders.get_order(place_order(ledger, world).id).routing
    assert before is not None
    assert after is not None
    assert (before.policy_version, before.allocations[0].node_id) == (0, world.warehouse_id)
    assert after.policy_version == 1
    assert [p.version for p in ledger.routing.policies(world.brand_id)] == [1]
    past = RoutingPolicy(effective_from=clock.now() - timedelta(seconds=1))
    with pytest.raises(RuleViolated):
        ledger.routing.publish_policy(ADMIN, world.brand_id, past)


def test_dry_run_routes_without_reserving(ledger: Ledger) -> None:
    world = build_world(ledger)
    lines = [LineDemand(1, world.sku_ids[0], 3)]
    decision = ledger.routing.dry_run(world.brand_id, lines, SHANGHAI)
    assert [a.node_id for a in decision.allocations] == [world.store_id]
    assert availability(ledger, world.store_id)[world.sku_ids[0]] == (STORE_STOCK, 0)


def test_stock_cannot_be_received_for_another_brands_sku(ledger: Ledger) -> None:
    world = build_world(ledger)
    other = ledger.organisation.register_brand(
        ADMIN, GROUP_ID, "OTHER", "Other", "Asia/Shanghai", "monthly"
    ).id
    sku = ledger.organisation.register_sku(
        ADMIN, brand_id=other, code="X", name="X", category="c", price_fen=100
    ).id
    with pytest.raises(RuleViolated):
        ledger.stock.receive(Command("wms"), world.store_id, sku, 5, "ASN")


def test_routing_follows_what_another_process_wrote_without_catching_up_read_models(
    pg_ledger: Ledger, clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Placing an order reads stock and nodes from this process's routing view, which
    follows the logs: another process's receipt and pause count at once, and no read
    model is caught up in the request."""
    world = build_world(pg_ledger)
    place_order(pg_ledger, world)  # the view starts from the stored read models
    other = bootstrap(make_settings(Persistence.POSTGRES, request, tmp_path), clock)
    try:
        receive(other, world.warehouse_id, world.sku_ids[0], 5)
        receive(other, world.warehouse_id, world.sku_ids[1], 5)
        other.organisation.pause_node(ADMIN, world.store_id, "stocktaking")
    finally:
        other.close()
    positions = {name: pg_ledger.projections.store.position(name) for name in POSITIONS}

    order = pg_ledger.orders.get_order(place_order(pg_ledger, world).id)

    assert [a.node_id for a in order.allocations] == [world.warehouse_id]
    assert {name: pg_ledger.projections.store.position(name) for name in POSITIONS} == positions


def test_daily_loads_are_counted_for_the_day_each_order_is_placed(
    ledger: Ledger, clock: ManualClock
) -> None:
    """The routing view keeps the loads of the days it was asked about; a new day starts
    at zero and yesterday's orders do not count against it."""
    world = build_world(ledger)
    ledger.organisation.set_node_daily_order_cap(ADMIN, world.store_id, 1)
    first = ledger.orders.get_order(place_order(ledger, world, (1, 1)).id)
    clock.advance(timedelta(days=1))
    second = ledger.orders.get_order(place_order(ledger, world, (1, 1)).id)
    third = ledger.orders.get_order(place_order(ledger, world, (1, 1)).id)
    assert [a.node_id for a in first.allocations] == [world.store_id]
    assert [a.node_id for a in second.allocations] == [world.store_id]
    assert third.awaiting_stock
