"""DOMAIN.md's stories at their real dates, through the HTTP API on PostgreSQL, on the
sandbox clock an integrator would use (`GUIDELEDGER_CLOCK=manual`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.api.auth import Role
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.settings import ClockMode, Persistence
from tests.api.conftest import bearer, pay, platform
from tests.api.test_orders_api import TOTAL, order_body
from tests.conftest import make_settings
from tests.world import World, build_world

OCTOBER_FIRST = datetime(2026, 9, 30, 16, tzinfo=UTC)  # 1 October, 00:00 in Shanghai


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    settings = make_settings(Persistence.POSTGRES, request, tmp_path).model_copy(
        update={"clock": ClockMode.MANUAL, "clock_start": OCTOBER_FIRST}
    )
    ledger = bootstrap(settings)
    yield ledger
    ledger.close()


@pytest.fixture
def admin(sandbox: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(sandbox), headers=bearer(sandbox, Role.ADMIN)) as client:
        yield client


def at(client: TestClient, shanghai: str) -> None:
    """Moves the sandbox clock to a wall-clock time in Shanghai, e.g. '2026-10-10T10:00'."""
    moved = client.post("/sandbox/clock", json={"now": f"{shanghai}+08:00"})
    assert moved.status_code == 200, moved.text


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
    ok(
        admin.post(
            f"/orders/{order_id}/shipments", json=SHIPMENT | {"node_id": str(world.store_id)}
        )
    )
    at(admin, "2026-10-12T15:00")
    ok(admin.post(f"/orders/{order_id}/shipments/s1/delivery", json={}))
    at(admin, "2026-10-20T09:00")
    sandbox.projections.process_all()
    ok(admin.post("/operations/mature-commissions", json={}, headers=platform(sandbox)))
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
    ok(
        admin.post(
            f"/orders/{order_id}/shipments", json=SHIPMENT | {"node_id": str(world.store_id)}
        )
    )
    at(admin, "2026-11-12T15:00")
    ok(admin.post(f"/orders/{order_id}/shipments/s1/delivery", json={}))
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
