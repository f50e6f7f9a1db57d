"""The managers' measures over HTTP: sales through guides' shares, after the store's
closing time and shipped across branches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay
from tests.api.test_attribution_api import paid_order
from tests.api.test_orders_api import TOTAL, assert_refused, delivered_order, order_body
from tests.world import PRICES, World, add_stocked_northern_warehouse, build_world, event_count

DAY = "2026-11-02"  # the clock starts at 09:00 in Shanghai on this day


def measures(client: TestClient, world: World, **params: Any) -> dict[str, Any]:
    response = client.get(
        f"/brands/{world.brand_id}/measures", params={"first": DAY, "last": DAY, **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def open_ten_to_ten(client: TestClient, store_id: object) -> None:
    response = client.put(
        f"/nodes/{store_id}/opening-hours", json={"opens": "10:00", "closes": "22:00"}
    )
    assert response.status_code == 200, response.text


def test_sales_through_shares_count_by_channel_net_of_refunds(
    client: TestClient, world: World, clock: ManualClock
) -> None:
    qr = {"channel": "guide_qr", "guide_id": str(world.guide_id), "share_code": "QR1"}
    paid_order(client, world)
    paid_order(client, world, evidence={**qr})
    paid_order(client, world, evidence={"channel": "direct", "store_id": str(world.store_id)})
    refunded = delivered_order(client, world)  # through the share link too
    client.post(
        f"/orders/{refunded}/returns",
        json={"return_id": "r1", "line_no": 1, "quantity": 1, "reason": "too small"},
    )
    client.post(f"/orders/{refunded}/refunds", json={"refund_id": "f1", "amount_fen": PRICES[0]})
    total = measures(client, world)["total"]
    assert (total["orders"], total["net_sales_fen"]) == (4, 4 * TOTAL - PRICES[0])
    assert (total["link_fen"], total["qr_fen"], total["live_stream_fen"]) == (
        2 * TOTAL - PRICES[0],
        TOTAL,
        0,
    )
    through, net = 3 * TOTAL - PRICES[0], 4 * TOTAL - PRICES[0]
    assert (total["through_shares_fen"], total["through_shares_rate"]) == (
        through,
        round(through / net, 4),
    )


def test_sales_paid_outside_the_stores_opening_hours_count_after_closing(
    client: TestClient, world: World, clock: ManualClock
) -> None:
    open_ten_to_ten(client, world.store_id)
    paid_order(client, world)  # 09:00 in Shanghai: not open yet
    clock.advance(timedelta(hours=3))
    paid_order(client, world)  # 12:00: open
    total = measures(client, world)["total"]
    assert (total["after_closing_fen"], total["after_closing_rate"]) == (TOTAL, 0.5)
    node = client.get(f"/nodes/{world.store_id}").json()
    assert node["opening_hours"] == {"opens": "10:00:00", "closes": "22:00:00"}


def test_opening_hours_that_close_before_they_open_or_on_a_warehouse_are_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    backwards = {"opens": "22:00", "closes": "10:00"}
    assert_refused(
        client.put(f"/nodes/{world.store_id}/opening-hours", json=backwards), 422, "invalid-value"
    )
    hours = {"opens": "10:00", "closes": "22:00"}
    assert_refused(
        client.put(f"/nodes/{world.warehouse_id}/opening-hours", json=hours), 422, "rule-violated"
    )
    assert event_count(api_ledger) == before


def test_sales_shipped_by_another_branch_count_as_cross_branch(
    client: TestClient, api_ledger: Ledger
) -> None:
    world = build_world(api_ledger, stocked=False)
    north, _warehouse = add_stocked_northern_warehouse(api_ledger, world)
    paid_order(client, world)
    east = measures(client, world, branch_id=str(world.branch_id))["total"]
    assert (east["cross_branch_fen"], east["cross_branch_rate"]) == (TOTAL, 1.0)
    assert measures(client, world, branch_id=str(north))["total"]["orders"] == 0


def test_a_store_manager_reads_their_own_stores_measures_per_day(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    paid_order(client, world)
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.store_id)
    days = {"first": "2026-11-01", "last": "2026-11-03"}
    url = f"/brands/{world.brand_id}/measures"
    own = client.get(url, params={**days, "store_id": str(world.store_id)}, headers=manager)
    assert [d["measures"]["net_sales_fen"] for d in own.json()["days"]] == [0, TOTAL, 0]
    assert_refused(client.get(url, params=days, headers=manager), 403, "forbidden")
    other = {**days, "store_id": str(world.other_store_id)}
    assert client.get(url, params=other, headers=manager).status_code == 403
    guide = bearer(api_ledger, Role.GUIDE, guide_id=world.guide_id)
    assert client.get(url, params=days, headers=guide).status_code == 403


def shared(client: TestClient, world: World, kind: str, visits: int, carts: int) -> str:
    code: str = client.post(f"/guides/{world.guide_id}/shares", json={"kind": kind}).json()[
        "share_code"
    ]
    client.post(f"/shares/{code}/visits", json={"count": visits})
    if carts:
        client.post(f"/shares/{code}/add-to-carts", json={"count": carts})
    return code


def funnel(client: TestClient, world: World, **params: Any) -> list[tuple[str, int, Any]]:
    response = client.get(
        f"/brands/{world.brand_id}/funnel", params={"first": DAY, "last": DAY, **params}
    )
    assert response.status_code == 200, response.text
    return [(s["step"], s["count"], s["conversion"]) for s in response.json()["steps"]]


def test_the_share_funnel_of_a_guide_a_store_and_a_district(
    client: TestClient, world: World
) -> None:
    qr = shared(client, world, "qr_code", 4, 1)
    link = shared(client, world, "product_link", 2, 0)
    evidence = {"channel": "guide_qr", "guide_id": str(world.guide_id), "share_code": qr}
    paid_order(client, world, evidence=evidence)
    unpaid = order_body(world, evidence={**evidence, "channel": "guide_share_link"})
    unpaid["evidence"]["share_code"] = link
    assert client.post("/orders", json=unpaid).status_code == 201
    expected = [
        ("shares", 2, None),
        ("visits", 6, 3.0),
        ("add_to_carts", 1, 0.1667),
        ("orders", 2, 2.0),
        ("payments", 1, 0.5),
    ]
    assert funnel(client, world, guide_id=str(world.guide_id)) == expected
    assert funnel(client, world, store_id=str(world.store_id)) == expected
    assert funnel(client, world, district_id=str(world.district_id)) == expected
    assert funnel(client, world, branch_id=str(world.branch_id)) == expected
    other = funnel(client, world, store_id=str(world.other_store_id))
    assert [count for _step, count, _conversion in other] == [0, 0, 0, 0, 0]
    assert_refused(
        client.get(f"/brands/{world.brand_id}/funnel", params={"first": DAY, "last": DAY}),
        422,
        "invalid-value",
    )


def test_a_guide_follows_only_their_own_shares(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    url = f"/brands/{world.brand_id}/funnel"
    days = {"first": DAY, "last": DAY}
    guide = bearer(api_ledger, Role.GUIDE, guide_id=world.guide_id)
    own = client.get(url, params={**days, "guide_id": str(world.guide_id)}, headers=guide)
    assert own.status_code == 200, own.text
    store = {**days, "store_id": str(world.store_id)}
    assert_refused(client.get(url, params=store, headers=guide), 403, "forbidden")
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.store_id)
    assert client.get(url, params=store, headers=manager).status_code == 200


def test_sales_delivered_to_another_city_than_the_stores_count_as_cross_city(
    client: TestClient, world: World
) -> None:
    store = client.post(
        f"/brands/{world.brand_id}/nodes",
        json={
            "code": "S-SH-02",
            "name": "Shanghai 2",
            "kind": "store",
            "branch_id": str(world.branch_id),
            "district_id": str(world.district_id),
            "ownership": "direct",
            "location": {"latitude": 31.2, "longitude": 121.4},
            "city": "Shanghai",
        },
    )
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    assert client.get(f"/nodes/{store_id}").json()["city"] == "Shanghai"
    hired = client.post(
        f"/brands/{world.brand_id}/guides",
        json={"code": "G-SH-02", "name": "Zhou", "store_id": store_id},
    )
    evidence = {"channel": "guide_share_link", "guide_id": hired.json()["id"], "share_code": "S2"}
    for city in ("Shanghai", " shanghai", "Hangzhou", None):
        delivery = {"address": "1 Road", "location": {"latitude": 31.2, "longitude": 121.4}}
        order = order_body(world, evidence=evidence, delivery={**delivery, "city": city})
        order_id = client.post("/orders", json=order).json()["id"]
        pay(client, order_id, TOTAL)
    total = measures(client, world, store_id=store_id)["total"]
    assert (total["orders"], total["cross_city_fen"], total["cross_city_rate"]) == (
        4,
        TOTAL,
        0.25,
    )
