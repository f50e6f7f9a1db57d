"""Order commands and queries over HTTP: idempotency, conflicts, and refusals that write nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay, platform
from tests.world import PRICES, World, event_count

PROBLEM = "application/problem+json"


def order_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "brand_id": str(world.brand_id),
        "member_id": str(world.member_id),
        "lines": [
            {"sku_id": str(world.sku_ids[0]), "quantity": 2, "unit_price_fen": PRICES[0]},
            {"sku_id": str(world.sku_ids[1]), "quantity": 1, "unit_price_fen": PRICES[1]},
        ],
        "delivery": {
            "address": "1 Nanjing Road",
            "location": {"latitude": 31.23, "longitude": 121.47},
        },
        "evidence": {
            "channel": "guide_share_link",
            "guide_id": str(world.guide_id),
            "share_code": "SC1",
        },
    }
    body.update(overrides)
    return body


TOTAL = 2 * PRICES[0] + PRICES[1]


def place(client: TestClient, world: World, **headers: str) -> dict[str, Any]:
    response = client.post("/orders", json=order_body(world), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def delivered_order(client: TestClient, world: World) -> str:
    order_id = place(client, world)["id"]
    pay(client, order_id, TOTAL)
    shipped = client.post(
        f"/orders/{order_id}/shipments",
        json={
            "shipment_id": "s1",
            "node_id": str(world.store_id),
            "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
        },
    )
    assert shipped.status_code == 200, shipped.text
    response = client.post(f"/orders/{order_id}/shipments/s1/delivery", json={})
    assert response.status_code == 200, response.text
    return str(order_id)


def assert_refused(response: Any, status: int, problem_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"].endswith("/" + problem_type)
    assert body["status"] == status
    assert "Traceback" not in response.text


def test_place_pay_and_read_an_order(client: TestClient, world: World) -> None:
    accepted = place(client, world)
    assert accepted["version"] == 3  # placed, attributed, allocated
    paid = pay(client, accepted["id"], TOTAL, transaction_id="4200000001")
    assert paid.json() == {"id": accepted["id"], "version": 4}
    order = client.get(f"/orders/{accepted['id']}").json()
    assert (order["status"], order["transaction_id"]) == ("paid", "4200000001")
    assert order["total_fen"] == TOTAL
    assert order["evidence"]["share_code"] == "SC1"
    assert [line["amount_fen"] for line in order["lines"]] == [2 * PRICES[0], PRICES[1]]


def test_retry_with_the_same_key_and_body_returns_the_first_response(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    first = client.post("/orders", json=order_body(world), headers={"Idempotency-Key": "k-42"})
    before = event_count(api_ledger)
    again = client.post("/orders", json=order_body(world), headers={"Idempotency-Key": "k-42"})
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert event_count(api_ledger) == before


def test_same_key_with_a_different_body_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    client.post("/orders", json=order_body(world), headers={"Idempotency-Key": "k-43"})
    before = event_count(api_ledger)
    changed = order_body(
        world, delivery={"address": "elsewhere", "location": {"latitude": 30, "longitude": 120}}
    )
    response = client.post("/orders", json=changed, headers={"Idempotency-Key": "k-43"})
    assert_refused(response, 422, "idempotency-key-reused")
    assert event_count(api_ledger) == before


def test_two_callers_sending_the_same_key_each_get_their_own_outcome(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    mall, app, kiosk = (bearer(api_ledger, Role.FRONTEND, who) for who in ("mall", "app", "kiosk"))
    changed = order_body(
        world, delivery={"address": "elsewhere", "location": {"latitude": 30, "longitude": 120}}
    )
    sent = [(mall, order_body(world)), (app, order_body(world)), (kiosk, changed)]
    first = [
        client.post("/orders", json=body, headers={**caller, "Idempotency-Key": "k-45"})
        for caller, body in sent
    ]
    assert [response.status_code for response in first] == [201, 201, 201]
    assert len({response.json()["id"] for response in first}) == 3
    before = event_count(api_ledger)
    again = [
        client.post("/orders", json=body, headers={**caller, "Idempotency-Key": "k-45"}).json()
        for caller, body in sent
    ]
    assert again == [response.json() for response in first]
    assert event_count(api_ledger) == before


def test_one_callers_key_for_two_operations_is_two_keys(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    key = {"Idempotency-Key": "k-46"}
    placed = client.post("/orders", json=order_body(world), headers=key)
    cancel = (f"/orders/{placed.json()['id']}/cancellation", {"reason": "changed mind"})
    cancelled = client.post(cancel[0], json=cancel[1], headers=key)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"id": placed.json()["id"], "version": 4}
    before = event_count(api_ledger)
    assert client.post("/orders", json=order_body(world), headers=key).json() == placed.json()
    assert client.post(cancel[0], json=cancel[1], headers=key).json() == cancelled.json()
    assert event_count(api_ledger) == before


def test_key_fingerprint_ignores_json_key_order(client: TestClient, world: World) -> None:
    body = order_body(world)
    first = client.post("/orders", json=body, headers={"Idempotency-Key": "k-44"})
    reordered = dict(reversed(list(body.items())))
    again = client.post("/orders", json=reordered, headers={"Idempotency-Key": "k-44"})
    assert again.json() == first.json()


def test_stale_expected_version_answers_409_with_the_current_version(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = place(client, world)["id"]
    pay(client, order_id, TOTAL)
    before = event_count(api_ledger)
    response = client.post(
        f"/orders/{order_id}/cancellation", json={"reason": "x", "expected_version": 3}
    )
    assert_refused(response, 409, "version-conflict")
    assert response.json()["current_version"] == 4
    assert event_count(api_ledger) == before


def test_an_expected_version_past_64_bits_still_answers_a_409_problem(
    client: TestClient, world: World
) -> None:
    order_id = place(client, world)["id"]
    response = client.post(
        f"/orders/{order_id}/cancellation", json={"reason": "x", "expected_version": 10**30}
    )
    assert_refused(response, 409, "version-conflict")
    assert response.json()["expected_version"] == 10**30


BAD_ORDERS: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "quantity as string",
        {
            "lines": [
                {
                    "sku_id": "00000000-0000-0000-0000-000000000000",
                    "quantity": "2",
                    "unit_price_fen": 1,
                }
            ]
        },
        422,
        "validation-error",
    ),
    (
        "negative quantity",
        {
            "lines": [
                {
                    "sku_id": "00000000-0000-0000-0000-000000000000",
                    "quantity": -1,
                    "unit_price_fen": 1,
                }
            ]
        },
        422,
        "validation-error",
    ),
    (
        "fractional price",
        {
            "lines": [
                {
                    "sku_id": "00000000-0000-0000-0000-000000000000",
                    "quantity": 1,
                    "unit_price_fen": 9.5,
                }
            ]
        },
        422,
        "validation-error",
    ),
    (
        "huge quantity",
        {
            "lines": [
                {
                    "sku_id": "00000000-0000-0000-0000-000000000000",
                    "quantity": 10**9,
                    "unit_price_fen": 1,
                }
            ]
        },
        422,
        "validation-error",
    ),
    ("no lines", {"lines": []}, 422, "validation-error"),
    ("unknown field", {"coupon": "FREE"}, 422, "validation-error"),
    ("unknown channel", {"evidence": {"channel": "telepathy"}}, 422, "validation-error"),
    ("brand id not a uuid", {"brand_id": "acme"}, 422, "validation-error"),
    (
        "latitude off the globe",
        {"delivery": {"address": "x", "location": {"latitude": 95, "longitude": 0}}},
        422,
        "validation-error",
    ),
    ("QR order without guide", {"evidence": {"channel": "guide_qr"}}, 422, "invalid-value"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "status", "problem"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS]
)
def test_bad_orders_are_refused_and_write_nothing(
    client: TestClient,
    world: World,
    api_ledger: Ledger,
    case: str,
    overrides: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    before = event_count(api_ledger)
    assert_refused(client.post("/orders", json=order_body(world, **overrides)), status, problem)
    assert event_count(api_ledger) == before


def test_unknown_sku_is_refused_and_writes_nothing(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    lines = [{"sku_id": "00000000-0000-0000-0000-000000000001", "quantity": 1, "unit_price_fen": 1}]
    response = client.post("/orders", json=order_body(world, lines=lines))
    assert_refused(response, 422, "unknown-reference")
    assert response.json()["field"] == "lines[1].sku_id"
    assert event_count(api_ledger) == before


def test_non_finite_numbers_are_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    location = {"latitude": float("nan"), "longitude": float("inf")}
    raw = json.dumps(order_body(world, delivery={"address": "x", "location": location}))
    assert "NaN" in raw
    response = client.post("/orders", content=raw, headers={"content-type": "application/json"})
    assert_refused(response, 422, "validation-error")
    assert event_count(api_ledger) == before


def test_returning_more_than_delivered_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = delivered_order(client, world)
    before = event_count(api_ledger)
    response = client.post(
        f"/orders/{order_id}/returns",
        json={"return_id": "r1", "line_no": 2, "quantity": 2, "reason": "changed mind"},
    )
    assert_refused(response, 422, "return-refused")
    assert event_count(api_ledger) == before


def test_return_and_refund_over_http(client: TestClient, world: World) -> None:
    order_id = delivered_order(client, world)
    returned = client.post(
        f"/orders/{order_id}/returns",
        json={"return_id": "r1", "line_no": 1, "quantity": 1, "reason": "too small"},
    )
    assert returned.status_code == 200, returned.text
    refunded = client.post(
        f"/orders/{order_id}/refunds", json={"refund_id": "f1", "amount_fen": PRICES[0]}
    )
    assert refunded.json()["version"] == 8
    order = client.get(f"/orders/{order_id}").json()
    assert (order["refunded_fen"], order["lines"][0]["returned"]) == (PRICES[0], 1)


def test_cancel_after_shipping_is_refused(client: TestClient, world: World) -> None:
    order_id = delivered_order(client, world)
    response = client.post(f"/orders/{order_id}/cancellation", json={"reason": "too late"})
    assert_refused(response, 422, "order-cannot-be-cancelled")


def test_order_as_of_a_past_instant(client: TestClient, world: World, clock: ManualClock) -> None:
    placed_at = clock.now()
    order_id = place(client, world)["id"]
    clock.advance(timedelta(minutes=3))
    pay(client, order_id, TOTAL)
    then = client.get(f"/orders/{order_id}", params={"as_of": placed_at.isoformat()}).json()
    assert (then["status"], then["version"]) == ("awaiting_payment", 3)
    before = client.get(
        f"/orders/{order_id}", params={"as_of": (placed_at - timedelta(days=1)).isoformat()}
    )
    assert_refused(before, 404, "not-found")


def test_as_of_without_a_time_zone_is_refused(client: TestClient, world: World) -> None:
    order_id = place(client, world)["id"]
    response = client.get(f"/orders/{order_id}", params={"as_of": "2026-11-01T10:00:00"})
    assert_refused(response, 422, "validation-error")


def test_history_shows_every_event_when_and_who(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    mall = bearer(api_ledger, Role.FRONTEND, "mall")
    order_id = client.post("/orders", json=order_body(world), headers=mall).json()["id"]
    pay(client, order_id, TOTAL)
    history = client.get(f"/orders/{order_id}/history").json()
    assert [(h["version"], h["event"], h["actor"]) for h in history] == [
        (1, "Placed", "frontend:mall"),
        (2, "Attributed", "frontend:mall"),
        (3, "Allocated", "frontend:mall"),
        (4, "Paid", "provider:payments"),
    ]
    assert history[0]["data"]["lines"][0]["quantity"] == 2
    assert history[0]["occurred_at"].endswith("Z")


def test_unknown_order_and_unknown_route_are_404_problems(client: TestClient) -> None:
    assert_refused(client.get("/orders/00000000-0000-0000-0000-000000000000"), 404, "not-found")
    assert_refused(client.get("/no/such/route"), 404, "not-found")


def test_oversized_bodies_are_refused_before_parsing(
    client: TestClient, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    response = client.post(
        "/orders", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert_refused(response, 413, "payload-too-large")
    assert event_count(api_ledger) == before


def test_oversized_chunked_bodies_are_refused_too(client: TestClient, api_ledger: Ledger) -> None:
    before = event_count(api_ledger)

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * (64 * 1024)

    response = client.post(
        "/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "payload-too-large")
    assert event_count(api_ledger) == before


def test_expire_unpaid_orders_operation(
    client: TestClient, world: World, clock: ManualClock, api_ledger: Ledger
) -> None:
    order_id = place(client, world)["id"]
    clock.advance(timedelta(minutes=31))
    response = client.post(
        "/operations/expire-unpaid-orders", json={}, headers=platform(api_ledger)
    )
    assert response.json() == {"expired": [order_id]}
    assert client.get(f"/orders/{order_id}").json()["cancel_reason"] == "payment window expired"


def test_far_future_instants_are_refused_where_they_would_act_early(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    place(client, world)
    before = event_count(api_ledger)
    year_9999 = {"as_of": "9999-12-31T23:59:59Z"}
    assert_refused(
        client.post(
            "/operations/expire-unpaid-orders", json=year_9999, headers=platform(api_ledger)
        ),
        422,
        "invalid-value",
    )
    assert_refused(
        client.post("/operations/mature-commissions", json=year_9999, headers=platform(api_ledger)),
        422,
        "invalid-value",
    )
    policy = {"effective_from": "9999-12-31T23:59:59Z"}
    refused = client.post(f"/brands/{world.brand_id}/routing-policies", json=policy)
    assert_refused(refused, 422, "rule-violated")
    assert event_count(api_ledger) == before
    order_id = place(client, world)["id"]
    as_of_far_future = client.get(f"/orders/{order_id}", params={"as_of": "9999-12-31T23:59:59Z"})
    assert as_of_far_future.json()["version"] == 3  # reading ahead shows the latest state


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def test_an_order_shows_when_it_was_paid_and_delivered_and_what_was_paid_returned_refunded(
    client: TestClient, world: World, clock: ManualClock
) -> None:
    coupon = [{"name": "coupon", "amount_fen": TOTAL // 10}]  # 3,170 off, 10% of each line
    order_id = client.post("/orders", json=order_body(world, discounts=coupon)).json()["id"]
    clock.advance(timedelta(minutes=3))
    paid_at = clock.now()
    pay(client, order_id, TOTAL - TOTAL // 10)
    for parcel, line_no, quantity in (("s1", 1, 2), ("s2", 2, 1)):
        shipment = {
            "shipment_id": parcel,
            "node_id": str(world.store_id),
            "lines": [{"line_no": line_no, "quantity": quantity}],
        }
        assert client.post(f"/orders/{order_id}/shipments", json=shipment).status_code == 200
    clock.advance(timedelta(days=1))
    first_arrived = clock.now()
    client.post(f"/orders/{order_id}/shipments/s1/delivery", json={})
    order = client.get(f"/orders/{order_id}").json()
    assert [instant(s["delivered_at"]) for s in order["shipments"]] == [first_arrived, None]
    assert (instant(order["paid_at"]), order["delivered_at"]) == (paid_at, None)

    clock.advance(timedelta(days=1))
    client.post(f"/orders/{order_id}/shipments/s2/delivery", json={})
    returned = {"return_id": "r1", "line_no": 1, "quantity": 1, "reason": "too small"}
    client.post(f"/orders/{order_id}/returns", json=returned)
    client.post(f"/orders/{order_id}/refunds", json={"refund_id": "f1", "amount_fen": 11_000})
    order = client.get(f"/orders/{order_id}").json()
    assert instant(order["delivered_at"]) == first_arrived + timedelta(days=1)  # the last parcel
    assert (order["paid_fen"], order["returned_fen"], order["refunded_fen"]) == (
        28_530,
        11_610,  # one of line 1's two units, at what was paid for it: 23,220 / 2
        11_000,
    )
    assert order["refundable_fen"] == 610
