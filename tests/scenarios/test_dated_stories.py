"""DOMAIN.md's stories at their real dates, through the HTTP API on PostgreSQL, on the
sandbox clock an integrator would use (`GUIDELEDGER_CLOCK=manual`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.settings import Persistence
from tests.api.conftest import bearer, pay, platform
from tests.api.test_orders_api import TOTAL, order_body
from tests.conftest import sandbox_ledger
from tests.world import World, build_world

OCTOBER_FIRST = datetime(2026, 9, 30, 16, tzinfo=UTC)  # 1 October, 00:00 in Shanghai


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with sandbox_ledger(Persistence.POSTGRES, request, tmp_path, OCTOBER_FIRST) as ledger:
        yield ledger


@pytest.fixture
def admin(sandbox: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(sandbox), headers=bearer(sandbox, Role.ADMIN)) as client:
        yield client


def at(client: TestClient, shanghai: str) -> None:
    """Moves the sandbox clock to a wall-clock time in Shanghai, e.g. '2026-10-10T10:00'."""
    moved = client.post("/sandbox/clock", json={"now": f"{shanghai}+08:00"})
    assert moved.status_code == 200, moved.text


def delivered(
    client: TestClient, order_id: str, node_id: UUID, when: str, lines: Any = None
) -> None:
    """Shipped from `node_id` now and delivered at `when` (Shanghai), as parcel s1."""
    parcel = {"shipment_id": "s1", "node_id": str(node_id), "lines": lines or SHIPMENT["lines"]}
    ok(client.post(f"/orders/{order_id}/shipments", json=parcel))
    at(client, when)
    ok(client.post(f"/orders/{order_id}/shipments/s1/delivery", json={}))


def matured(client: TestClient, ledger: Ledger, when: str) -> None:
    """At `when` (Shanghai), the scheduler's sweep matures what has passed its window."""
    at(client, when)
    ledger.projections.process_all()
    ok(client.post("/operations/mature-commissions", json={}, headers=platform(ledger)))


def ok(response: Any) -> Any:
    assert response.status_code in {200, 201}, response.text
    return response.json()


def test_a_return_after_october_closed_is_clawed_back_in_november(
    admin: TestClient, sandbox: Ledger
) -> None:
    """Paid and delivered in October, October closed, one unit returned on 3 November:
    a clawback on the guide's November statement, October as it was, the books balanced."""
    world: World = build_world(sandbox)
    ok(admin.post(f"/brands/{world.brand_id}/commission-policies", json=GUIDE_THREE_PERCENT))
    at(admin, "2026-10-10T10:00")
    mall = bearer(sandbox, Role.FRONTEND, "mall")
    order_id = ok(admin.post("/orders", json=order_body(world), headers=mall))["id"]
    ok(pay(admin, order_id, TOTAL))
    delivered(admin, order_id, world.store_id, "2026-10-12T15:00")
    matured(admin, sandbox, "2026-10-20T09:00")
    at(admin, "2026-11-01T00:00")
    finance = bearer(sandbox, Role.FINANCE, "chen")
    ok(admin.post(f"/brands/{world.brand_id}/periods/2026-10/close", headers=finance))
    guide = f"/payees/guide/{world.guide_id}/statements"
    october = ok(admin.get(f"{guide}/2026-10"))
    earned = october["total_fen"]
    assert earned > 0
    assert october["closed"] is True

    at(admin, "2026-11-03T14:00")
    ok(admin.post(f"/orders/{order_id}/returns", json=RETURN_ONE, headers=mall))
    sandbox.projections.process_all()
    at(admin, "2026-12-01T00:00")
    ok(admin.post(f"/brands/{world.brand_id}/periods/2026-11/close", headers=finance))

    assert ok(admin.get(f"{guide}/2026-10")) == october
    november = ok(admin.get(f"{guide}/2026-11"))
    [clawback] = [line for line in november["lines"] if line["kind"] == "clawback"]
    assert clawback["order_id"] == order_id
    assert clawback["amount_fen"] == -387  # 3% of the one unit of CNY 129 returned
    assert ok(admin.get(f"/brands/{world.brand_id}/trial-balance"))["total_fen"] == 0


GUIDE_THREE_PERCENT = {"rates": [{"level": "guide", "rate_bp": 300}], "top_guide_bonus_fen": 0}
SHIPMENT = {
    "shipment_id": "s1",
    "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
}
RETURN_ONE = {"return_id": "r1", "line_no": 1, "quantity": 1, "reason": "too small"}


def test_a_size_is_exchanged_without_a_new_payment_and_the_commission_stays(
    admin: TestClient, sandbox: Ledger
) -> None:
    """Delivered on 12 November, one pair swapped for the next size on 14 November: the
    pair goes back on the store's shelf, the new size is reserved where it is, nothing is
    paid again and the guide's commission neither drops nor doubles."""
    world: World = build_world(sandbox)
    ok(admin.post(f"/brands/{world.brand_id}/commission-policies", json=GUIDE_THREE_PERCENT))
    size_l = ok(admin.post(f"/brands/{world.brand_id}/skus", json=SIZE_L))["id"]
    receipt = {"quantity": 2, "reference": "ASN-L"}
    ok(admin.post(f"/nodes/{world.warehouse_id}/stock/{size_l}/receipts", json=receipt))
    at(admin, "2026-11-10T20:00")
    mall = bearer(sandbox, Role.FRONTEND, "mall")
    order_id = ok(admin.post("/orders", json=order_body(world), headers=mall))["id"]
    ok(pay(admin, order_id, TOTAL))
    delivered(admin, order_id, world.store_id, "2026-11-12T15:00")
    sandbox.projections.process_all()
    balances = f"/payees/guide/{world.guide_id}/balances"
    before = ok(admin.get(balances))
    shelf = {p["sku_id"]: p for p in ok(admin.get(f"/nodes/{world.store_id}/stock"))}

    at(admin, "2026-11-14T11:00")
    exchange = {
        "exchange_id": "x1",
        "line_no": 1,
        "quantity": 1,
        "sku_id": size_l,
        "received_at_node_id": str(world.store_id),
    }
    ok(admin.post(f"/orders/{order_id}/exchanges", json=exchange, headers=mall))
    sandbox.projections.process_all()

    order = ok(admin.get(f"/orders/{order_id}"))
    assert order["paid_fen"] == TOTAL
    assert order["exchanges"][0]["allocated_nodes"] == [str(world.warehouse_id)]
    after = {p["sku_id"]: p for p in ok(admin.get(f"/nodes/{world.store_id}/stock"))}
    first_sku = str(world.sku_ids[0])
    assert after[first_sku]["available"] == shelf[first_sku]["available"] + 1
    assert ok(admin.get(balances)) == before
    history = [entry["event"] for entry in ok(admin.get(f"/orders/{order_id}/history"))]
    assert "ItemsExchanged" in history


SIZE_L = {"code": "SKU-1-L", "name": "SKU 1, size L", "category": "footwear", "price_fen": 12_900}


def test_footwear_from_3_to_5_percent_from_1_november_decided_on_15_november(
    admin: TestClient, sandbox: Ledger
) -> None:
    """October's footwear order and November's apparel order keep their rules; November's
    footwear order is corrected when the change is promoted, October's closed statement
    is untouched, and November audits clean."""
    world: World = build_world(sandbox)
    brand = f"/brands/{world.brand_id}"
    ok(admin.post(f"{brand}/commission-policies", json=GUIDE_THREE_PERCENT))
    tee = ok(admin.post(f"{brand}/skus", json=TEE))["id"]
    ok(
        admin.post(
            f"/nodes/{world.store_id}/stock/{tee}/receipts",
            json={"quantity": 5, "reference": "ASN-T"},
        )
    )
    mall = bearer(sandbox, Role.FRONTEND, "mall")
    at(admin, "2026-10-20T12:00")
    october_shoes = sell(admin, sandbox, world, mall, [(str(world.sku_ids[0]), 1, 12_900)])
    delivered(admin, october_shoes, world.store_id, "2026-10-21T12:00", [ONE])
    matured(admin, sandbox, "2026-10-29T12:00")
    at(admin, "2026-11-01T00:00")
    finance = bearer(sandbox, Role.FINANCE, "chen")
    ok(admin.post(f"{brand}/periods/2026-10/close", headers=finance))
    guide = f"/payees/guide/{world.guide_id}/statements"
    october = ok(admin.get(f"{guide}/2026-10"))
    at(admin, "2026-11-05T12:00")
    november_shoes = sell(admin, sandbox, world, mall, [(str(world.sku_ids[0]), 1, 12_900)])
    sell(admin, sandbox, world, mall, [(tee, 1, 9_900)])
    delivered(admin, november_shoes, world.store_id, "2026-11-06T12:00", [ONE])
    matured(admin, sandbox, "2026-11-14T12:00")

    at(admin, "2026-11-15T10:00")
    view = f"{brand}/commission-view"
    proposal = {**FOOTWEAR_FIVE_PERCENT, "effective_from": "2026-11-01T00:00:00+08:00"}
    assert admin.post(f"{view}/rebuilds", json={"proposal": proposal}).status_code == 202
    sandbox.commission_views.wait()
    diff = ok(admin.get(f"{view}/diff", headers=finance))
    assert {order["order_id"] for line in diff for order in line["orders"]} == {november_shoes}
    assert october_shoes not in str(diff)
    ok(admin.post(f"{view}/promote"))

    sandbox.projections.process_all()
    assert ok(admin.get(f"{guide}/2026-10")) == october
    november = ok(admin.get(f"{guide}/2026-11"))
    [correction] = [line for line in november["lines"] if line["kind"] == "correction"]
    assert (correction["order_id"], correction["amount_fen"]) == (november_shoes, 258)  # 2% of 129
    assert ok(admin.get(f"{brand}/trial-balance"))["total_fen"] == 0
    assert ok(admin.get(f"{brand}/periods/2026-11/audit", headers=finance))["clean"] is True


def test_a_store_accounts_sale_is_handed_back_to_the_guide_at_the_close(
    admin: TestClient, sandbox: Ledger
) -> None:
    """A store-account order noting the guide on 6 November: the store holds the guide's
    share, and at the November close hands it back: a line on each statement."""
    world: World = build_world(sandbox)
    ok(admin.post(f"/brands/{world.brand_id}/commission-policies", json=GUIDE_THREE_PERCENT))
    at(admin, "2026-11-06T19:00")
    mall = bearer(sandbox, Role.FRONTEND, "mall")
    note = {"channel": "store_account", "store_id": str(world.store_id), "guide_note": "Wang Fang"}
    order_id = ok(admin.post("/orders", json=order_body(world, evidence=note), headers=mall))["id"]
    ok(pay(admin, order_id, TOTAL))
    delivered(admin, order_id, world.store_id, "2026-11-08T12:00")
    matured(admin, sandbox, "2026-11-16T09:00")
    at(admin, "2026-12-01T00:00")
    finance = bearer(sandbox, Role.FINANCE, "chen")
    ok(admin.post(f"/brands/{world.brand_id}/periods/2026-11/close", headers=finance))

    store = ok(admin.get(f"/payees/store/{world.store_id}/statements/2026-11"))
    guide = ok(admin.get(f"/payees/guide/{world.guide_id}/statements/2026-11"))
    [given] = [line for line in store["lines"] if line["kind"] == "handback"]
    [received] = [line for line in guide["lines"] if line["kind"] == "handback"]
    assert given["amount_fen"] == -received["amount_fen"] < 0
    assert given["order_id"] == received["order_id"] == order_id
    assert any(line["held_for"] == str(world.guide_id) for line in store["lines"])
    assert ok(admin.get(f"/brands/{world.brand_id}/trial-balance"))["total_fen"] == 0


def sell(
    client: TestClient, ledger: Ledger, world: World, frontend: dict[str, str], lines: list[Any]
) -> str:
    """Places and pays an order through the guide's link: (sku, quantity, unit price)."""
    body = order_body(
        world,
        lines=[{"sku_id": s, "quantity": q, "unit_price_fen": p} for s, q, p in lines],
    )
    order_id: str = ok(client.post("/orders", json=body, headers=frontend))["id"]
    ok(pay(client, order_id, sum(q * p for _s, q, p in lines)))
    ledger.projections.process_all()
    return order_id


ONE = {"line_no": 1, "quantity": 1}
TEE = {"code": "TEE-1", "name": "Tee", "category": "apparel", "price_fen": 9_900}
FOOTWEAR_FIVE_PERCENT = {
    "rates": [
        {"level": "guide", "rate_bp": 300},
        {"level": "guide", "rate_bp": 500, "category": "footwear"},
    ],
    "top_guide_bonus_fen": 0,
}
