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
