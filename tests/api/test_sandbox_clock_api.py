"""The sandbox clock over HTTP: admins move it forward only, every rule that reads time
follows it, and production does not serve it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.sandbox_clock import SandboxClock
from guideledger.platform.settings import Environment, Persistence
from tests.api.conftest import bearer, pay, platform
from tests.api.test_orders_api import TOTAL, delivered_order, order_body
from tests.conftest import START, sandbox_ledger
from tests.world import World, build_world

PROBLEM = "application/problem+json"


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on the sandbox clock (`GUIDELEDGER_CLOCK=manual`), starting at START."""
    with sandbox_ledger(Persistence.SQLITE, request, tmp_path, START) as ledger:
        yield ledger


@pytest.fixture
def admin(sandbox: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(sandbox), headers=bearer(sandbox, Role.ADMIN)) as client:
        yield client


@pytest.fixture
def sandbox_world(sandbox: Ledger) -> World:
    return build_world(sandbox)


def move(client: TestClient, moment: datetime, **headers: str) -> dict[str, str]:
    response = client.post("/sandbox/clock", json={"now": moment.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_the_service_starts_at_the_clock_start_and_admins_move_it(
    admin: TestClient, sandbox: Ledger
) -> None:
    assert isinstance(sandbox.clock, SandboxClock)
    assert admin.get("/sandbox/clock").json() == {"now": "2026-11-02T01:00:00Z"}
    later = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
    assert move(admin, later) == {"now": "2026-11-05T09:30:00Z"}
    assert move(admin, later) == {"now": "2026-11-05T09:30:00Z"}  # where it is: no change
    ops = platform(sandbox)
    in_beijing = "2026-11-06T08:00:00+08:00"
    moved = admin.post("/sandbox/clock", json={"now": in_beijing}, headers=ops)
    assert moved.json() == {"now": "2026-11-06T00:00:00Z"}
    mall = bearer(sandbox, Role.FRONTEND, "mall")
    assert admin.get("/sandbox/clock", headers=mall).json() == {"now": "2026-11-06T00:00:00Z"}
    assert sandbox.clock.now() == datetime(2026, 11, 6, tzinfo=UTC)


def test_only_admins_move_the_clock(admin: TestClient, sandbox: Ledger) -> None:
    for role in (Role.FINANCE, Role.SUPPORT, Role.FRONTEND):
        refused = admin.post(
            "/sandbox/clock",
            json={"now": "2026-12-01T00:00:00Z"},
            headers=bearer(sandbox, role, "someone"),
        )
        assert refused.status_code == 403, role
        assert refused.json()["allowed"] == ["admin", "platform_admin"]
    assert admin.get(
        "/sandbox/clock", headers={"Authorization": "Bearer nonsense"}
    ).status_code == (401)
    assert sandbox.clock.now() == START


def test_moving_the_clock_back_is_refused_and_writes_nothing(
    admin: TestClient, sandbox: Ledger
) -> None:
    move(admin, START + timedelta(days=1))
    refused = admin.post("/sandbox/clock", json={"now": START.isoformat()})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["type"].endswith("/clock-moved-back")
    assert refused.json()["now"] == (START + timedelta(days=1)).isoformat()
    assert admin.get("/sandbox/clock").json()["now"] == "2026-11-03T01:00:00Z"
    naive = admin.post("/sandbox/clock", json={"now": "2026-12-01T00:00:00"})
    assert naive.status_code == 422
    assert sandbox.clock.now() == START + timedelta(days=1)


def test_an_unpaid_order_expires_once_the_clock_passes_its_payment_window(
    admin: TestClient, sandbox: Ledger, sandbox_world: World
) -> None:
    order_id = admin.post("/orders", json=order_body(sandbox_world)).json()["id"]
    ops = platform(sandbox)
    sweep = "/operations/expire-unpaid-orders"
    assert admin.post(sweep, json={}, headers=ops).json() == {"expired": []}
    move(admin, START + timedelta(minutes=31))
    assert admin.post(sweep, json={}, headers=ops).json() == {"expired": [order_id]}
    assert admin.get(f"/orders/{order_id}").json()["status"] == "cancelled"


def test_commissions_mature_and_the_month_closes_as_the_clock_walks(
    admin: TestClient, sandbox: Ledger, sandbox_world: World
) -> None:
    admin.post(
        f"/brands/{sandbox_world.brand_id}/commission-policies",
        json={"rates": [{"level": "guide", "rate_bp": 300}], "top_guide_bonus_fen": 0},
    )
    delivered_order(admin, sandbox_world)
    sandbox.projections.process_all()
    ops, mature = platform(sandbox), "/operations/mature-commissions"
    assert admin.post(mature, json={}, headers=ops).json() == {"matured": 0}
    move(admin, START + timedelta(days=8))
    assert admin.post(mature, json={}, headers=ops).json() == {"matured": 1}
    close = f"/brands/{sandbox_world.brand_id}/periods/2026-11/close"
    assert admin.post(close).status_code == 422  # November has not ended yet
    move(admin, datetime(2026, 12, 1, tzinfo=UTC))
    assert admin.post(close).status_code == 200
    statement = admin.get(f"/payees/guide/{sandbox_world.guide_id}/statements/2026-11").json()
    assert (statement["closed"], statement["total_fen"]) == (True, TOTAL * 3 // 100)


def test_a_payment_counts_by_the_sandbox_clock(
    admin: TestClient, sandbox: Ledger, sandbox_world: World
) -> None:
    order_id = admin.post("/orders", json=order_body(sandbox_world)).json()["id"]
    move(admin, START + timedelta(hours=1))
    late = pay(admin, order_id, TOTAL)  # paid at the clock's instant, past the window
    assert late.status_code == 422, late.text


def test_on_the_wall_clock_the_clock_is_read_but_not_moved(
    client: TestClient, api_ledger: Ledger
) -> None:
    assert client.get("/sandbox/clock").status_code == 200
    refused = client.post("/sandbox/clock", json={"now": "2030-01-01T00:00:00Z"})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/clock-not-manual")


def test_production_does_not_serve_the_sandbox_clock(api_ledger: Ledger) -> None:
    production = replace(
        api_ledger,
        settings=api_ledger.settings.model_copy(update={"environment": Environment.PRODUCTION}),
    )
    with TestClient(create_app(production), headers=bearer(api_ledger, Role.ADMIN)) as client:
        assert client.get("/sandbox/clock").status_code == 404
        moved = client.post("/sandbox/clock", json={"now": "2030-01-01T00:00:00Z"})
        assert moved.status_code == 404
        assert moved.headers["content-type"].startswith(PROBLEM)
        assert "/sandbox/clock" not in client.get("/openapi.json").json()["paths"]
