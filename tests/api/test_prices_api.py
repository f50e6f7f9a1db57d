"""A line's unit price is the SKU's price in force when the order is placed: its list
price, or a published promotion's while it runs. Any other price is refused, writing
nothing. A discount is a named amount off the order: what is paid, and what commission
is earned on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay
from tests.api.test_orders_api import TOTAL, assert_refused, order_body
from tests.world import PRICES, World, event_count

PROMOTION_PRICE = 9_900


def at_prices(world: World, first: int, second: int = PRICES[1]) -> dict[str, Any]:
    return order_body(
        world,
        lines=[
            {"sku_id": str(world.sku_ids[0]), "quantity": 2, "unit_price_fen": first},
            {"sku_id": str(world.sku_ids[1]), "quantity": 1, "unit_price_fen": second},
        ],
    )


def assert_wrong_price(response: Any, line_no: int, price_in_force_fen: int) -> None:
    assert_refused(response, 422, "wrong-unit-price")
    problem = response.json()
    assert (problem["line_no"], problem["price_in_force_fen"]) == (line_no, price_in_force_fen)


def test_a_line_below_the_list_price_is_refused_and_writes_nothing(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    response = client.post("/orders", json=at_prices(world, PRICES[0], PRICES[1] - 1))
    assert_wrong_price(response, 2, PRICES[1])
    assert response.json()["unit_price_fen"] == PRICES[1] - 1
    assert event_count(api_ledger) == before


def test_a_new_list_price_is_the_next_orders_price(client: TestClient, world: World) -> None:
    changed = client.put(f"/skus/{world.sku_ids[0]}/price", json={"price_fen": 13_900})
    assert changed.status_code == 200, changed.text
    assert_wrong_price(client.post("/orders", json=at_prices(world, PRICES[0])), 1, 13_900)
    assert client.post("/orders", json=at_prices(world, 13_900)).status_code == 201


def test_a_promotion_price_holds_only_while_the_promotion_runs(
    client: TestClient, world: World, clock: ManualClock
) -> None:
    starts = clock.now() + timedelta(hours=1)
    ends = starts + timedelta(days=1)
    published = client.post(
        f"/skus/{world.sku_ids[0]}/promotions",
        json={
            "name": "双十一 Singles' Day",
            "price_fen": PROMOTION_PRICE,
            "effective_from": starts.isoformat(),
            "effective_to": ends.isoformat(),
        },
    )
    assert published.status_code == 201, published.text
    promotion, listed = at_prices(world, PROMOTION_PRICE), at_prices(world, PRICES[0])

    assert_wrong_price(client.post("/orders", json=promotion), 1, PRICES[0])
    assert client.post("/orders", json=listed).status_code == 201
    clock.set(starts)
    placed = client.post("/orders", json=promotion)
    assert placed.status_code == 201, placed.text
    order = client.get(f"/orders/{placed.json()['id']}").json()
    assert order["total_fen"] == 2 * PROMOTION_PRICE + PRICES[1]
    assert_wrong_price(client.post("/orders", json=listed), 1, PROMOTION_PRICE)
    clock.set(ends)
    assert_wrong_price(client.post("/orders", json=promotion), 1, PRICES[0])
    assert client.post("/orders", json=listed).status_code == 201

    sku = client.get(f"/skus/{world.sku_ids[0]}").json()
    assert [(p["name"], p["price_fen"]) for p in sku["promotions"]] == [
        ("双十一 Singles' Day", PROMOTION_PRICE)
    ]


def test_promotions_are_published_by_an_admin_for_now_or_later(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    path = f"/skus/{world.sku_ids[0]}/promotions"
    body = {
        "name": "flash",
        "price_fen": 100,
        "effective_to": (clock.now() + timedelta(hours=1)).isoformat(),
    }
    before = event_count(api_ledger)
    frontend = bearer(api_ledger, Role.FRONTEND)
    assert_refused(client.post(path, json=body, headers=frontend), 403, "forbidden")
    past = {**body, "effective_from": (clock.now() - timedelta(minutes=1)).isoformat()}
    assert_refused(client.post(path, json=past), 422, "rule-violated")
    assert event_count(api_ledger) == before
    assert client.post(path, json=body).status_code == 201
    assert client.post("/orders", json=at_prices(world, 100)).status_code == 201


def test_a_discount_comes_off_what_is_paid_and_what_commission_is_earned_on(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    coupon = {"name": "满199减20 coupon", "amount_fen": 1_700}
    placed = client.post("/orders", json=order_body(world, discounts=[coupon]))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    order = client.get(f"/orders/{order_id}").json()
    assert (order["lines_fen"], order["discounts"], order["total_fen"]) == (
        TOTAL,
        [coupon],
        TOTAL - 1_700,
    )
    assert [line["unit_price_fen"] for line in order["lines"]] == list(PRICES)
    assert sum(line["paid_fen"] for line in order["lines"]) == TOTAL - 1_700

    before = event_count(api_ledger)
    assert_refused(pay(client, order_id, TOTAL), 422, "wrong-payment-amount")
    assert event_count(api_ledger) == before
    assert pay(client, order_id, TOTAL - 1_700).status_code == 200
    api_ledger.projections.process_all()
    balances = client.get(f"/payees/guide/{world.guide_id}/balances").json()
    assert balances["pending"] == 900  # 3% of the 30,000 paid, not of the 31,700 listed


def test_discounts_beyond_the_lines_total_are_refused_and_write_nothing(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    discounts = [{"name": "coupon", "amount_fen": TOTAL}, {"name": "voucher", "amount_fen": 1}]
    response = client.post("/orders", json=order_body(world, discounts=discounts))
    assert_refused(response, 422, "invalid-value")
    blank = client.post(
        "/orders", json=order_body(world, discounts=[{"name": "", "amount_fen": 1}])
    )
    assert_refused(blank, 422, "validation-error")
    assert event_count(api_ledger) == before
