"""Inside one group, each role reaches only its own: deliveries by the shipping store or
logistics, bindings by support, members' data by support and the bound guide, figures and
stock by their guide or store, a moved guide's lines by the store that earned them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay
from tests.api.test_commissions_api import settled_november
from tests.api.test_orders_api import TOTAL, assert_refused, delivered_order, order_body, place
from tests.world import ADMIN, World, event_count


def shipped_order(client: TestClient, world: World) -> str:
    order_id = place(client, world)["id"]
    assert pay(client, order_id, TOTAL).status_code == 200
    shipment = {
        "shipment_id": "s1",
        "node_id": str(world.store_id),
        "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
    }
    assert client.post(f"/orders/{order_id}/shipments", json=shipment).status_code == 200
    return str(order_id)


def test_only_the_shipping_stores_manager_or_logistics_records_a_delivery(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = shipped_order(client, world)
    delivery = f"/orders/{order_id}/shipments/s1/delivery"
    before = event_count(api_ledger)
    for refused in (
        bearer(api_ledger, Role.STORE_MANAGER, "hz", store_id=world.other_store_id),
        bearer(api_ledger, Role.SUPPORT, "zhang"),
        bearer(api_ledger, Role.FRONTEND, "mall"),
    ):
        assert client.post(delivery, json={}, headers=refused).status_code in {403, 404}
    assert_refused(
        client.post(f"/orders/{order_id}/shipments/nope/delivery", json={}), 404, "not-found"
    )
    assert event_count(api_ledger) == before
    manager = bearer(api_ledger, Role.STORE_MANAGER, "sh", store_id=world.store_id)
    assert client.post(delivery, json={}, headers=manager).status_code == 200
    second = shipped_order(client, world)
    courier = bearer(api_ledger, Role.LOGISTICS, "sf-express")
    delivered = client.post(f"/orders/{second}/shipments/s1/delivery", json={}, headers=courier)
    assert delivered.status_code == 200, delivered.text


def test_bindings_are_changed_and_read_by_support_only(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    other_guide = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun", world.store_id
    ).id
    bind = {"brand_id": str(world.brand_id), "guide_id": str(other_guide), "reason": "asked"}
    path = f"/members/{world.member_id}/bindings"
    before = event_count(api_ledger)
    frontend = bearer(api_ledger, Role.FRONTEND, "mall")
    assert_refused(client.post(path, json=bind, headers=frontend), 403, "forbidden")
    assert_refused(client.get(f"{path}/{world.brand_id}", headers=frontend), 403, "forbidden")
    assert event_count(api_ledger) == before
    support = bearer(api_ledger, Role.SUPPORT, "zhang")
    assert client.post(path, json=bind, headers=support).status_code == 201
    assert client.get(f"{path}/{world.brand_id}", headers=support).json()["guide_id"] == str(
        other_guide
    )


def test_members_data_is_read_by_support_and_the_bound_guide_only(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    member = f"/members/{world.member_id}"
    frontend = bearer(api_ledger, Role.FRONTEND, "mall")
    assert_refused(client.get(member, headers=frontend), 403, "forbidden")
    assert_refused(client.get("/members/by-number/M0001", headers=frontend), 403, "forbidden")
    guide = bearer(api_ledger, Role.GUIDE, "wang", guide_id=world.guide_id)
    assert_refused(client.get(member, headers=guide), 403, "forbidden")  # not bound yet
    bind = {"brand_id": str(world.brand_id), "guide_id": str(world.guide_id), "reason": "QR"}
    support = bearer(api_ledger, Role.SUPPORT, "zhang")
    assert client.post(f"{member}/bindings", json=bind, headers=support).status_code == 201
    assert client.get(member, headers=guide).json()["name"] == "Li Lei"
    other = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun", world.store_id
    ).id
    stranger = bearer(api_ledger, Role.GUIDE, "sun", guide_id=other)
    assert_refused(client.get(member, headers=stranger), 403, "forbidden")
    assert client.get("/members/by-number/M0001", headers=support).status_code == 200


def test_guides_and_store_managers_read_their_own_figures(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    delivered_order(client, world)
    other = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun", world.other_store_id
    ).id
    link = {"channel": "guide_share_link", "guide_id": str(other), "share_code": "SC2"}
    second = client.post("/orders", json=order_body(world, evidence=link)).json()["id"]
    assert pay(client, second, TOTAL).status_code == 200
    api_ledger.projections.process_all()
    rankings = f"/brands/{world.brand_id}/rankings"
    me = bearer(api_ledger, Role.GUIDE, "wang", guide_id=world.guide_id)
    today = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    district = {"district_id": str(world.district_id), "day": today}
    guides = client.get(f"{rankings}/guides", params=district, headers=me).json()
    assert [g["guide_id"] for g in guides] == [str(world.guide_id)]
    assert len(client.get(f"{rankings}/guides", params=district).json()) == 2
    assert client.get(f"{rankings}/stores", params={"day": today}, headers=me).json() == []
    manager = bearer(api_ledger, Role.STORE_MANAGER, "hz", store_id=world.other_store_id)
    stores = client.get(f"{rankings}/stores", params={"day": today}, headers=manager).json()
    assert [s["store_id"] for s in stores] == [str(world.other_store_id)]
    their_store = {"store_id": str(world.store_id), "day": today}
    assert client.get(f"{rankings}/guides", params=their_store, headers=manager).json() == []
    days = {"first": "2026-11-01", "last": "2026-11-30"}
    sales = f"/brands/{world.brand_id}/sales/daily"
    assert_refused(client.get(sales, params=days, headers=me), 403, "forbidden")
    own = {**days, "guide_id": str(world.guide_id)}
    assert client.get(sales, params=own, headers=me).status_code == 200
    someone_elses = {**days, "guide_id": str(world.guide_id), "store_id": str(world.other_store_id)}
    assert_refused(client.get(sales, params=someone_elses, headers=me), 403, "forbidden")
    assert_refused(
        client.get(sales, params={**days, "guide_id": str(other)}, headers=me), 403, "forbidden"
    )


def test_stock_and_share_funnels_are_scoped_to_their_store_and_guide(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    guide = bearer(api_ledger, Role.GUIDE, "wang", guide_id=world.guide_id)
    assert_refused(client.get(f"/nodes/{world.store_id}/stock", headers=guide), 403, "forbidden")
    manager = bearer(api_ledger, Role.STORE_MANAGER, "hz", store_id=world.other_store_id)
    assert_refused(client.get(f"/nodes/{world.store_id}/stock", headers=manager), 403, "forbidden")
    positions = client.get(f"/skus/{world.sku_ids[0]}/stock", headers=manager).json()
    assert {p["node_id"] for p in positions} <= {str(world.other_store_id)}
    assert len(client.get(f"/skus/{world.sku_ids[0]}/stock").json()) >= 1
    share = client.post(f"/guides/{world.guide_id}/shares", json={"kind": "qr_code"}).json()
    other = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun", world.store_id
    ).id
    stranger = bearer(api_ledger, Role.GUIDE, "sun", guide_id=other)
    assert_refused(client.get(f"/shares/{share['share_code']}", headers=stranger), 403, "forbidden")
    days = {"first": "2026-11-01", "last": "2026-11-30"}
    funnel = f"/guides/{world.guide_id}/funnel"
    assert_refused(client.get(funnel, params=days, headers=stranger), 403, "forbidden")
    assert client.get(funnel, params=days, headers=guide).status_code == 200


def test_a_moved_guides_lines_stay_with_the_store_that_earned_them(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    guide_path = settled_november(client, world, api_ledger, clock)
    transferred = client.post(
        f"/guides/{world.guide_id}/transfer", json={"to_store_id": str(world.other_store_id)}
    )
    assert transferred.status_code == 200, transferred.text
    former = bearer(api_ledger, Role.STORE_MANAGER, "sh", store_id=world.store_id)
    new = bearer(api_ledger, Role.STORE_MANAGER, "hz", store_id=world.other_store_id)
    november = f"{guide_path}/statements/2026-11"
    whole = client.get(november).json()
    earned_here = client.get(november, headers=former).json()
    assert [line["order_id"] for line in earned_here["lines"]] == [
        line["order_id"] for line in whole["lines"] if line["order_id"]
    ]
    assert earned_here["lines"]
    assert earned_here["total_fen"] > 0
    moved_in = client.get(november, headers=new).json()
    assert all(line["order_id"] is None for line in moved_in["lines"])
    assert moved_in["partial"] is True
    assert_refused(client.get(f"{guide_path}/statements", headers=former), 403, "forbidden")
    assert client.get(f"{guide_path}/statements", headers=new).status_code == 200
