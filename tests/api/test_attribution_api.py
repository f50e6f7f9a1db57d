"""Attribution, bindings, shares and rankings over HTTP."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import pay
from tests.api.test_orders_api import TOTAL, assert_refused, order_body
from tests.world import World, event_count


def paid_order(client: TestClient, world: World, **overrides: object) -> str:
    order_id = client.post("/orders", json=order_body(world, **overrides)).json()["id"]
    pay(client, order_id, TOTAL)
    return str(order_id)


def test_an_orders_attribution_and_its_correction(client: TestClient, world: World) -> None:
    order_id = paid_order(client, world)
    attribution = client.get(f"/orders/{order_id}/attribution").json()
    assert (attribution["channel"], attribution["guide_id"]) == (
        "guide_share_link",
        str(world.guide_id),
    )
    assert attribution["evidence"]["share_code"] == "SC1"
    corrected = client.post(
        f"/orders/{order_id}/attribution-corrections",
        json={"store_id": str(world.other_store_id), "reason": "customer is a regular there"},
    )
    assert corrected.status_code == 200, corrected.text
    after = client.get(f"/orders/{order_id}/attribution").json()
    assert (after["channel"], after["store_id"], after["guide_id"]) == (
        "store_only",
        str(world.other_store_id),
        None,
    )


def test_a_correction_naming_both_or_neither_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = paid_order(client, world)
    before = event_count(api_ledger)
    both = {"guide_id": str(world.guide_id), "store_id": str(world.store_id), "reason": "x"}
    assert_refused(
        client.post(f"/orders/{order_id}/attribution-corrections", json=both), 422, "invalid-value"
    )
    assert event_count(api_ledger) == before


def test_bindings_can_be_read_and_set(client: TestClient, world: World) -> None:
    paid_order(client, world)
    binding = client.get(f"/members/{world.member_id}/bindings/{world.brand_id}").json()
    assert binding["guide_id"] == str(world.guide_id)
    assert [h["event"] for h in binding["history"]] == ["Bound"]
    response = client.post(
        f"/members/{world.member_id}/bindings",
        json={"brand_id": str(world.brand_id), "guide_id": str(world.guide_id), "reason": "again"},
    )
    assert_refused(response, 422, "rule-violated")


def test_shares_record_a_funnel(client: TestClient, world: World) -> None:
    shared = client.post(f"/guides/{world.guide_id}/shares", json={"kind": "qr_code"})
    assert shared.status_code == 201, shared.text
    code = shared.json()["share_code"]
    client.post(f"/shares/{code}/visits", json={"count": 4})
    client.post(f"/shares/{code}/add-to-carts", json={})
    paid_order(
        client,
        world,
        evidence={"channel": "guide_qr", "guide_id": str(world.guide_id), "share_code": code},
    )
    view = client.get(f"/shares/{code}").json()
    assert (view["visits"], view["add_to_carts"], view["orders"], view["payments"]) == (4, 1, 1, 1)
    assert_refused(
        client.post(f"/shares/{code}/visits", json={"count": 0}), 422, "validation-error"
    )


def test_yesterdays_rankings_and_daily_sales(
    client: TestClient, world: World, clock: ManualClock
) -> None:
    paid_order(client, world)
    clock.advance(timedelta(days=1))
    stores = client.get(f"/brands/{world.brand_id}/rankings/stores").json()
    assert [(s["rank"], s["store_id"], s["sales"]["net_sales_fen"]) for s in stores] == [
        (1, str(world.store_id), TOTAL)
    ]
    guides = client.get(
        f"/brands/{world.brand_id}/rankings/guides", params={"store_id": str(world.store_id)}
    ).json()
    assert guides[0]["guide_id"] == str(world.guide_id)
    days = client.get(
        f"/brands/{world.brand_id}/sales/daily",
        params={"first": "2026-11-01", "last": "2026-11-03"},
    ).json()
    assert [d["sales"]["sales_fen"] for d in days] == [0, TOTAL, 0]
    two_scopes = {"store_id": str(world.store_id), "district_id": str(world.district_id)}
    assert_refused(
        client.get(f"/brands/{world.brand_id}/rankings/guides", params=two_scopes),
        422,
        "invalid-value",
    )
    too_long = {"first": "2026-01-01", "last": "2026-12-31"}
    assert_refused(
        client.get(f"/brands/{world.brand_id}/sales/daily", params=too_long), 422, "invalid-value"
    )


def test_attribution_policies_over_http(client: TestClient, world: World) -> None:
    response = client.post(
        f"/brands/{world.brand_id}/attribution-policies",
        json={"precedence": ["bound_guide", "guide_link"], "binding_mode": "last_touch"},
    )
    assert response.status_code == 201, response.text
    [policy] = client.get(f"/brands/{world.brand_id}/attribution-policies").json()
    assert policy["precedence"] == ["bound_guide", "guide_link"]
    refused = client.post(
        f"/brands/{world.brand_id}/attribution-policies",
        json={"precedence": ["guide_link", "guide_link"]},
    )
    assert_refused(refused, 422, "invalid-value")
