"""Exchanges over HTTP: who may ask, what the order then shows, what a different price is
answered, and how the history and the timeline tell it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.fulfilment.domain.stock import Stock
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay
from tests.api.test_orders_api import TOTAL, assert_refused, delivered_order, order_body
from tests.world import ADMIN, PRICES, World, event_count, receive


@pytest.fixture
def size_l(api_ledger: Ledger, world: World) -> UUID:
    """Another size of the first SKU, at its price, three of them in the other store."""
    sku_id = api_ledger.organisation.register_sku(
        ADMIN,
        brand_id=world.brand_id,
        code="SKU-1-L",
        name="SKU 1, size L",
        category="footwear",
        price_fen=PRICES[0],
    ).id
    receive(api_ledger, world.other_store_id, sku_id, 3)
    return sku_id


def exchange_body(world: World, replacement: UUID, **overrides: Any) -> dict[str, Any]:
    body = {
        "exchange_id": "x1",
        "line_no": 1,
        "quantity": 1,
        "sku_id": str(replacement),
        "received_at_node_id": str(world.warehouse_id),
    }
    return {**body, **overrides}


def test_support_exchanges_a_unit_and_the_order_ships_the_replacement(
    client: TestClient, world: World, api_ledger: Ledger, size_l: UUID
) -> None:
    order_id = delivered_order(client, world)
    support = bearer(api_ledger, Role.SUPPORT, "li")

    response = client.post(
        f"/orders/{order_id}/exchanges", json=exchange_body(world, size_l), headers=support
    )

    assert response.status_code == 200, response.text
    order = client.get(f"/orders/{order_id}").json()
    assert (order["status"], order["paid_fen"], order["refundable_fen"]) == (
        "partially_shipped",
        TOTAL,
        0,
    )
    assert order["lines"][0]["exchanged"] == 1
    [exchange] = order["exchanges"]
    assert exchange["replacement"] == {
        "line_no": 3,
        "sku_id": str(size_l),
        "quantity": 1,
        "unit_price_fen": PRICES[0],
        "amount_fen": PRICES[0],
        "paid_fen": PRICES[0],
        "shipped": 0,
        "delivered": 0,
        "returned": 0,
        "exchanged": 0,
    }
    assert exchange["allocated_nodes"] == [str(world.other_store_id)]
    stock = client.get(f"/nodes/{world.warehouse_id}/stock").json()
    assert [(s["sku_id"], s["on_hand"]) for s in stock] == [(str(world.sku_ids[0]), 1)]

    # The store that ships the replacement sees the order as its own.
    its_manager = bearer(api_ledger, Role.STORE_MANAGER, "zhao", store_id=world.other_store_id)
    parcel = {
        "shipment_id": "s2",
        "node_id": str(world.other_store_id),
        "lines": [{"line_no": 3, "quantity": 1}],
    }
    shipped = client.post(f"/orders/{order_id}/shipments", json=parcel, headers=its_manager)
    assert shipped.status_code == 200, shipped.text
    delivery = f"/orders/{order_id}/shipments/s2/delivery"
    assert client.post(delivery, json={}, headers=its_manager).status_code == 200
    assert client.get(f"/orders/{order_id}").json()["status"] == "delivered"


def test_an_exchange_for_another_price_is_refused_and_writes_nothing(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = delivered_order(client, world)
    before = event_count(api_ledger)
    response = client.post(
        f"/orders/{order_id}/exchanges", json=exchange_body(world, world.sku_ids[1])
    )
    assert_refused(response, 422, "exchange-price-differs")
    problem = response.json()
    assert (problem["unit_price_fen"], problem["price_in_force_fen"]) == (PRICES[0], PRICES[1])
    assert "new order" in problem["detail"]
    assert event_count(api_ledger) == before


@pytest.mark.parametrize(
    ("overrides", "status", "problem_type"),
    [
        ({"quantity": 3}, 422, "exchange-refused"),
        ({"line_no": 0}, 422, "validation-error"),
        ({"sku_id": str(uuid4())}, 404, "not-found"),
        ({"received_at_node_id": str(uuid4())}, 404, "not-found"),
    ],
    ids=["more than was delivered", "no line 0", "unknown SKU", "unknown node"],
)
def test_bad_exchanges_are_refused_and_write_nothing(
    client: TestClient,
    world: World,
    api_ledger: Ledger,
    size_l: UUID,
    overrides: dict[str, Any],
    status: int,
    problem_type: str,
) -> None:
    order_id = delivered_order(client, world)
    before = event_count(api_ledger)
    response = client.post(
        f"/orders/{order_id}/exchanges", json=exchange_body(world, size_l, **overrides)
    )
    assert_refused(response, status, problem_type)
    assert event_count(api_ledger) == before


def test_a_frontend_exchanges_only_the_orders_it_placed(
    client: TestClient, world: World, api_ledger: Ledger, size_l: UUID
) -> None:
    mall = bearer(api_ledger, Role.FRONTEND, "mall")
    order_id = client.post("/orders", json=order_body(world), headers=mall).json()["id"]
    pay(client, order_id, TOTAL)
    parcel = {
        "shipment_id": "s1",
        "node_id": str(world.store_id),
        "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
    }
    client.post(f"/orders/{order_id}/shipments", json=parcel)
    client.post(f"/orders/{order_id}/shipments/s1/delivery", json={})
    url, body = f"/orders/{order_id}/exchanges", exchange_body(world, size_l)

    other_shop = bearer(api_ledger, Role.FRONTEND, "another-shop")
    assert_refused(client.post(url, json=body, headers=other_shop), 404, "not-found")
    guide = bearer(api_ledger, Role.GUIDE, "wang", guide_id=world.guide_id)
    assert_refused(client.post(url, json=body, headers=guide), 403, "forbidden")
    assert client.post(url, json=body, headers=mall).status_code == 200


def test_history_and_timeline_show_the_exchange_and_no_commission_moving(
    client: TestClient, world: World, api_ledger: Ledger, size_l: UUID, clock: ManualClock
) -> None:
    order_id = delivered_order(client, world)
    api_ledger.projections.process_all()
    clock.advance(timedelta(days=1))

    client.post(f"/orders/{order_id}/exchanges", json=exchange_body(world, size_l))
    api_ledger.projections.process_all()

    history = client.get(f"/orders/{order_id}/history").json()
    assert [h["event"] for h in history[-2:]] == ["ItemsExchanged", "Allocated"]
    exchanged = history[-2]["data"]
    assert (exchanged["exchange_id"], exchanged["line_no"], exchanged["quantity"]) == ("x1", 1, 1)
    assert exchanged["received_at_node_id"] == str(world.warehouse_id)
    assert exchanged["replacement"]["sku_id"] == str(size_l)
    assert exchanged["paid_fen"] == PRICES[0]
    timeline = client.get(f"/orders/{order_id}/timeline").json()
    after = [
        (entry["source"], entry["event"], entry["aggregate_id"])
        for entry in timeline
        if entry["occurred_at"] > history[-3]["occurred_at"]
    ]
    assert [(source, event) for source, event, _ in after] == [
        ("order", "ItemsExchanged"),
        ("stock", "Reserved"),  # the replacement, while it is routed
        ("order", "Allocated"),
        ("stock", "Restocked"),  # the unit that came back, where it was received
    ]
    reserved_at, restocked_at = after[1][2], after[3][2]
    assert reserved_at == str(Stock.create_id(world.other_store_id, size_l))
    assert restocked_at == str(Stock.create_id(world.warehouse_id, world.sku_ids[0]))
