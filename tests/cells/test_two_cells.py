"""Two groups on two cells, served by one app: each group's events live on its own cell's
server, each caller reaches only its own group, and the platform's sweeps reach every cell."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.cells.cells import Cells
from guideledger.cells.directory import store_schema
from guideledger.cells.workers import work
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import notification, notify
from tests.api.test_orders_api import TOTAL, order_body
from tests.cells.conftest import Servers, Tenant, new_tenant, token


def place_and_pay(client: TestClient, cells: Cells, tenant: Tenant) -> str:
    placed = client.post("/orders", json=order_body(tenant.world), headers=tenant.frontend)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    body: dict[str, Any] = notification(order_id, TOTAL, tenant.ledger.clock.now())
    body["group_id"] = str(tenant.group_id)
    paid = notify(client, cells.home.settings, body)
    assert paid.status_code == 200, paid.text
    return str(order_id)


def stored_events(url: str, schema: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name LIKE '%%events'",
            (schema,),
        ).fetchone()
        assert row is not None
        assert row[0] > 0, f"no event tables in {schema}"
        row = connection.execute(f'SELECT count(*) FROM "{schema}".orders_events').fetchone()
        assert row is not None
        return int(row[0])


def test_each_group_lives_on_its_own_cell(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    first, second = new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")
    place_and_pay(cell_app, cells, first)
    place_and_pay(cell_app, cells, second)

    assert stored_events(servers.a.url, store_schema(first.group_id)) > 0
    assert stored_events(servers.b.url, store_schema(second.group_id)) > 0
    with psycopg.connect(servers.a.url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            (store_schema(second.group_id),),
        ).fetchone()
    assert row == (0,)  # nothing of the second group on the first cell


def test_a_new_group_goes_to_the_least_loaded_cell(cell_app: TestClient, cells: Cells) -> None:
    assert cells.directory is not None
    new_tenant(cell_app, cells, "a")
    unnamed = new_tenant(cell_app, cells, None)
    placement = cells.directory.placement(unnamed.group_id)
    assert placement is not None
    assert placement.cell_id == "b"


def test_an_unknown_cell_is_refused_and_nothing_is_placed(
    cell_app: TestClient, cells: Cells
) -> None:
    assert cells.directory is not None
    platform = token(cells, Role.PLATFORM_ADMIN, None)
    refused = cell_app.post(
        "/groups", json={"code": "G-NOWHERE", "name": "x", "cell_id": "z"}, headers=platform
    )
    assert refused.status_code == 404
    assert refused.json()["type"].endswith("/unknown-cell")
    assert cells.directory.placements() == []


def test_a_caller_reaches_only_its_own_group_across_cells(
    cell_app: TestClient, cells: Cells
) -> None:
    first, second = new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")
    order_id = place_and_pay(cell_app, cells, second)
    for path in (f"/orders/{order_id}", f"/brands/{second.world.brand_id}"):
        assert cell_app.get(path, headers=first.admin).status_code == 404
        assert cell_app.get(path, headers=second.admin).status_code == 200
    foreign = cell_app.post("/orders", json=order_body(second.world), headers=first.frontend)
    assert foreign.status_code == 404  # the other group's brand is unknown here


def test_a_payment_names_its_group_or_finds_no_order(cell_app: TestClient, cells: Cells) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    placed = cell_app.post("/orders", json=order_body(tenant.world), headers=tenant.frontend)
    order_id = placed.json()["id"]
    body = notification(order_id, TOTAL, tenant.ledger.clock.now())
    assert notify(cell_app, cells.home.settings, body).status_code == 404  # not in the home store
    body["group_id"] = str(tenant.group_id)
    assert notify(cell_app, cells.home.settings, body).status_code == 200


def test_the_platforms_sweeps_and_a_worker_reach_every_cell(
    cell_app: TestClient, cells: Cells, clock: ManualClock
) -> None:
    tenants = [new_tenant(cell_app, cells, cell_id) for cell_id in ("a", "b")]
    unpaid = [
        cell_app.post("/orders", json=order_body(t.world), headers=t.frontend).json()["id"]
        for t in tenants
    ]
    clock.advance(timedelta(minutes=31))
    platform = token(cells, Role.PLATFORM_ADMIN, None)
    expired = cell_app.post("/operations/expire-unpaid-orders", json={}, headers=platform)
    assert sorted(expired.json()["expired"]) == sorted(unpaid)

    stopping = threading.Event()
    worker = threading.Thread(target=work, args=(cells, stopping))
    worker.start()
    try:
        for tenant in tenants:
            ledger = tenant.ledger
            _wait_until(lambda ledger=ledger: _caught_up(ledger))
    finally:
        stopping.set()
        worker.join()


def _caught_up(ledger: Ledger) -> bool:
    runner = ledger.projections
    return all(runner.caught_up(name) for name in runner.projections)


def _wait_until(condition: Any, attempts: int = 200) -> None:
    ready = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        ready.wait(0.05)
    raise AssertionError("the worker did not catch up")
