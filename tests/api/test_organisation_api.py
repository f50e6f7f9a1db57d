"""The organisation, catalogue and members over HTTP, built from nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from tests.api.test_orders_api import assert_refused
from tests.world import event_count


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def build_brand(client: TestClient) -> dict[str, str]:
    brand = post(
        client,
        "/brands",
        {
            "code": "ACME",
            "name": "Acme 运动",
            "time_zone": "Asia/Shanghai",
            "settlement_cadence": "quarterly",
        },
    )["id"]
    region = post(client, f"/brands/{brand}/regions", {"code": "R1", "name": "东区"})["id"]
    district = post(
        client, f"/brands/{brand}/districts", {"code": "D1", "name": "上海区", "region_id": region}
    )["id"]
    branch = post(client, f"/brands/{brand}/branches", {"code": "B1", "name": "华东分公司"})["id"]
    store = post(
        client,
        f"/brands/{brand}/nodes",
        {
            "code": "S1",
            "name": "南京路店",
            "kind": "store",
            "branch_id": branch,
            "district_id": district,
            "ownership": "franchise",
            "location": {"latitude": 31.23, "longitude": 121.47},
        },
    )["id"]
    return {
        "brand": brand,
        "region": region,
        "district": district,
        "branch": branch,
        "store": store,
    }


def test_builds_and_reads_a_brand_structure(client: TestClient) -> None:
    ids = build_brand(client)
    brand = client.get(f"/brands/{ids['brand']}").json()
    assert (brand["name"], brand["settlement_cadence"]) == ("Acme 运动", "quarterly")
    assert client.get("/brands/by-code/ACME").json()["id"] == ids["brand"]
    assert client.get(f"/districts/{ids['district']}").json()["region_id"] == ids["region"]
    assert client.get(f"/regions/{ids['region']}").json()["name"] == "东区"
    assert client.get(f"/branches/{ids['branch']}").json()["code"] == "B1"
    store = client.get(f"/brands/{ids['brand']}/nodes/by-code/S1").json()
    assert (store["id"], store["ownership"], store["paused"]) == (ids["store"], "franchise", False)


def test_node_pause_resume_and_daily_cap(client: TestClient) -> None:
    store = build_brand(client)["store"]
    assert post(client, f"/nodes/{store}/pause", {"reason": "装修 renovation"}, 200)["version"] == 2
    assert client.get(f"/nodes/{store}").json()["pause_reason"] == "装修 renovation"
    assert_refused(
        client.post(f"/nodes/{store}/pause", json={"reason": "again"}), 422, "rule-violated"
    )
    post(client, f"/nodes/{store}/resume", {"expected_version": 2}, 200)
    response = client.put(f"/nodes/{store}/daily-order-cap", json={"daily_order_cap": 300})
    assert response.json()["version"] == 4
    assert client.get(f"/nodes/{store}").json()["daily_order_cap"] == 300


def test_guide_hire_transfer_and_leave(client: TestClient) -> None:
    ids = build_brand(client)
    other = post(
        client,
        f"/brands/{ids['brand']}/nodes",
        {
            "code": "S2",
            "name": "淮海路店",
            "kind": "store",
            "branch_id": ids["branch"],
            "district_id": ids["district"],
            "ownership": "direct",
            "location": {"latitude": 31.22, "longitude": 121.46},
        },
    )["id"]
    guide = post(
        client,
        f"/brands/{ids['brand']}/guides",
        {"code": "G1", "name": "王芳", "store_id": ids["store"]},
    )["id"]
    post(client, f"/guides/{guide}/transfer", {"to_store_id": other}, 200)
    post(client, f"/guides/{guide}/leave", {"reason": "resigned"}, 200)
    view = client.get(f"/brands/{ids['brand']}/guides/by-code/G1").json()
    assert (view["store_id"], view["status"]) == (other, "left")
    assert_refused(
        client.post(f"/guides/{guide}/leave", json={"reason": "again"}), 422, "rule-violated"
    )


def test_catalogue_and_members(client: TestClient) -> None:
    brand = build_brand(client)["brand"]
    sku = post(
        client,
        f"/brands/{brand}/skus",
        {"code": "RUN-01", "name": "跑鞋", "category": "footwear", "price_fen": 39900},
    )["id"]
    client.put(f"/skus/{sku}/price", json={"price_fen": 35900, "expected_version": 1})
    assert client.get(f"/brands/{brand}/skus/by-code/RUN-01").json()["price_fen"] == 35900
    member = post(
        client, "/members", {"member_no": "M1", "name": "李雷", "phone": "+86 13800000000"}
    )["id"]
    assert client.get("/members/by-number/M1").json()["id"] == member


def test_duplicates_and_bad_references_are_refused_and_write_nothing(
    client: TestClient, api_ledger: Ledger
) -> None:
    ids = build_brand(client)
    before = event_count(api_ledger)
    duplicate = client.post(
        "/brands",
        json={
            "code": "ACME",
            "name": "x",
            "time_zone": "Asia/Shanghai",
            "settlement_cadence": "monthly",
        },
    )
    assert_refused(duplicate, 409, "already-exists")
    assert_refused(
        client.post(
            f"/brands/{ids['brand']}/guides",
            json={"code": "G9", "name": "x", "store_id": ids["branch"]},
        ),
        422,
        "unknown-reference",
    )
    assert_refused(
        client.post(
            "/brands",
            json={
                "code": "X",
                "name": "x",
                "time_zone": "Mars/Olympus",
                "settlement_cadence": "monthly",
            },
        ),
        422,
        "invalid-value",
    )
    assert_refused(
        client.put(f"/skus/{ids['brand']}/price", json={"price_fen": 0}), 404, "not-found"
    )
    assert event_count(api_ledger) == before


def test_unicode_names_round_trip(client: TestClient) -> None:
    brand = build_brand(client)["brand"]
    name = "🏃‍♀️ 跑鞋 Ünïcödé"
    sku = post(
        client,
        f"/brands/{brand}/skus",
        {"code": "U-1", "name": name, "category": "footwear", "price_fen": 100},
    )["id"]
    assert client.get(f"/skus/{sku}").json()["name"] == name
