"""Stock, routing explanations, dry runs, the unroutable queue and policies over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from tests.api.test_orders_api import assert_refused, order_body
from tests.world import STORE_STOCK, World, event_count


def receipt(client: TestClient, node: object, sku: object, quantity: Any) -> Any:
    return client.post(
        f"/nodes/{node}/stock/{sku}/receipts", json={"quantity": quantity, "reference": "ASN-9"}
    )


def test_receiving_stock_shows_in_availability_by_node_and_by_sku(
    client: TestClient, world: World
) -> None:
    assert receipt(client, world.warehouse_id, world.sku_ids[0], 7).status_code == 201
    by_node = client.get(f"/nodes/{world.warehouse_id}/stock").json()
    assert by_node == [
        {
            "node_id": str(world.warehouse_id),
            "sku_id": str(world.sku_ids[0]),
            "on_hand": 7,
            "reserved": 0,
            "available": 7,
        }
    ]
    by_sku = client.get(f"/skus/{world.sku_ids[0]}/stock").json()
    assert {row["node_id"]: row["available"] for row in by_sku} == {
        str(world.store_id): STORE_STOCK,
        str(world.warehouse_id): 7,
    }


@pytest.mark.parametrize("quantity", [0, -3, 10**7, "5", 1.5])
def test_receipts_refuse_impossible_quantities(
    client: TestClient, world: World, api_ledger: Ledger, quantity: Any
) -> None:
    before = event_count(api_ledger)
    assert_refused(
        receipt(client, world.store_id, world.sku_ids[0], quantity), 422, "validation-error"
    )
    assert event_count(api_ledger) == before


def test_adjusting_below_reserved_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    client.post("/orders", json=order_body(world))
    before = event_count(api_ledger)
    response = client.post(
        f"/nodes/{world.store_id}/stock/{world.sku_ids[0]}/adjustments",
        json={"delta": -STORE_STOCK, "reason": "stock count"},
    )
    assert_refused(response, 422, "stock-rule-violated")
    assert event_count(api_ledger) == before


def test_an_orders_routing_explains_every_candidate(client: TestClient, world: World) -> None:
    receipt(client, world.warehouse_id, world.sku_ids[0], 9)
    order_id = client.post("/orders", json=order_body(world)).json()["id"]
    routing = client.get(f"/orders/{order_id}/routing").json()
    assert routing["routable"] is True
    assert routing["reason"].startswith("one node ships every line")
    assert [a["node_id"] for a in routing["allocations"]] == [str(world.store_id)]
    assert routing["allocations"][0]["cross_branch"] is False
    warehouse = next(c for c in routing["candidates"] if c["node_id"] == str(world.warehouse_id))
    assert warehouse["outcome"] == "not_chosen"
    assert warehouse["reason"] == "cannot ship every line (short on line 2)"


def test_dry_run_reserves_nothing(client: TestClient, world: World, api_ledger: Ledger) -> None:
    before = event_count(api_ledger)
    response = client.post(
        f"/brands/{world.brand_id}/routing/dry-run",
        json={
            "lines": [{"sku_id": str(world.sku_ids[1]), "quantity": 1}],
            "location": {"latitude": 31.2, "longitude": 121.4},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["allocations"][0]["node_id"] == str(world.store_id)
    assert event_count(api_ledger) == before


def test_unroutable_orders_are_listed_and_rerouted(client: TestClient, world: World) -> None:
    big = order_body(world)
    big["lines"][0]["quantity"] = STORE_STOCK + 5
    order_id = client.post("/orders", json=big).json()["id"]
    assert client.get(f"/orders/{order_id}").json()["awaiting_stock"] is True
    queue = client.get(f"/brands/{world.brand_id}/unroutable-orders").json()
    assert [q["order_id"] for q in queue] == [order_id]
    receipt(client, world.store_id, world.sku_ids[0], 5)
    assert client.get(f"/brands/{world.brand_id}/unroutable-orders").json() == []
    assert client.post(f"/brands/{world.brand_id}/unroutable-orders/reroute").json() == {
        "allocated": []
    }
    assert client.get(f"/orders/{order_id}").json()["allocated_nodes"] == [str(world.store_id)]


def test_routing_policies_are_published_and_listed(client: TestClient, world: World) -> None:
    response = client.post(
        f"/brands/{world.brand_id}/routing-policies",
        json={"distance_band_km": 5, "max_shipments": 3},
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 1
    [policy] = client.get(f"/brands/{world.brand_id}/routing-policies").json()
    assert (policy["version"], policy["distance_band_km"], policy["max_shipments"]) == (1, 5, 3)
    refused = client.post(
        f"/brands/{world.brand_id}/routing-policies", json={"distance_band_km": 0}
    )
    assert_refused(refused, 422, "validation-error")
    past = client.post(
        f"/brands/{world.brand_id}/routing-policies",
        json={"effective_from": "2020-01-01T00:00:00Z"},
    )
    assert_refused(past, 422, "rule-violated")
