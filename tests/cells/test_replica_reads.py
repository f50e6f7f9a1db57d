"""Reads from a cell's streaming replica: commands answer their commit position, queries
that tolerate staleness say where they were read and how fresh, and a query naming a
commit position reflects it (read-your-writes), from the replica once it has caught up,
else from the primary."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.cells.cells import Cells
from guideledger.cells.replicas import commit_position
from guideledger.cells.workers import work
from tests.api.conftest import notification, notify
from tests.api.test_orders_api import TOTAL, order_body
from tests.cells.conftest import Tenant, new_tenant, token


@pytest.fixture
def worker(cells: Cells) -> Iterator[None]:
    """A worker keeping every store's read models current, as `guideledger worker` does."""
    stopping = threading.Event()
    thread = threading.Thread(target=work, args=(cells, stopping))
    thread.start()
    yield
    stopping.set()
    thread.join()


def store_sales(client: TestClient, tenant: Tenant, **headers: str) -> tuple[int, dict[str, str]]:
    """The brand's first store's sales today, and the response's headers."""
    today = tenant.ledger.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    response = client.get(
        f"/brands/{tenant.world.brand_id}/rankings/stores",
        params={"day": today.isoformat()},
        headers={**tenant.admin, **headers},
    )
    assert response.status_code == 200, response.text
    rows = {row["store_id"]: row for row in response.json()}
    row = rows.get(str(tenant.world.store_id))
    return (row["sales"]["sales_fen"] if row else 0), dict(response.headers)


def test_a_command_answers_its_commit_position_on_a_replicated_cell(
    cell_app: TestClient, cells: Cells
) -> None:
    replicated, plain = new_tenant(cell_app, cells, "b"), new_tenant(cell_app, cells, "a")
    on_b = cell_app.post("/orders", json=order_body(replicated.world), headers=replicated.frontend)
    on_a = cell_app.post("/orders", json=order_body(plain.world), headers=plain.frontend)
    assert on_b.status_code == on_a.status_code == 201
    assert "/" in on_b.headers["commit-position"]
    assert "commit-position" not in on_a.headers  # a cell without replicas: no position


def test_a_query_says_where_it_was_read_and_how_fresh(cell_app: TestClient, cells: Cells) -> None:
    replicated, plain = new_tenant(cell_app, cells, "b"), new_tenant(cell_app, cells, "a")
    _, headers = store_sales(cell_app, replicated)
    assert headers["read-source"] == "replica"
    assert "/" in headers["read-position"]
    assert float(headers["read-staleness"]) >= 0
    _, headers = store_sales(cell_app, plain)
    assert headers["read-source"] == "primary"
    assert headers["read-staleness"] == "0.000"


def test_read_your_writes_falls_back_to_the_primary_while_the_replica_lags(
    cell_app: TestClient, cells: Cells
) -> None:
    """No worker runs: the replica's read models never see the sale, so the primary
    answers (catching up in the request)."""
    tenant = new_tenant(cell_app, cells, "b")
    position = place_and_pay_position(cell_app, cells, tenant)
    sales, headers = store_sales(cell_app, tenant, **{"Read-After": position})
    assert headers["read-source"] == "primary"
    assert sales > 0


@pytest.mark.usefixtures("worker")
def test_read_your_writes_from_the_replica_once_it_caught_up(
    cell_app: TestClient, cells: Cells
) -> None:
    tenant = new_tenant(cell_app, cells, "b")
    position = place_and_pay_position(cell_app, cells, tenant)
    for _ in range(50):  # the worker projects the sale on the primary, the replica replays it
        sales, headers = store_sales(cell_app, tenant, **{"Read-After": position})
        assert sales > 0  # whoever answers reflects the write
        if headers["read-source"] == "replica":
            return
    raise AssertionError("the replica never served the read")


def test_a_malformed_position_is_refused(cell_app: TestClient, cells: Cells) -> None:
    tenant = new_tenant(cell_app, cells, "b")
    response = cell_app.get(
        f"/brands/{tenant.world.brand_id}/rankings/stores",
        headers={**tenant.admin, "Read-After": "not-a-position"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def place_and_pay_position(client: TestClient, cells: Cells, tenant: Tenant) -> str:
    """Places and pays an order; the payment's commit position."""
    placed = client.post("/orders", json=order_body(tenant.world), headers=tenant.frontend)
    body = notification(placed.json()["id"], TOTAL, tenant.ledger.clock.now())
    body["group_id"] = str(tenant.group_id)
    paid = notify(client, cells.home.settings, body)
    assert paid.status_code == 200
    return str(paid.headers["commit-position"])


def test_an_audit_replays_the_replicas_commission_log(cell_app: TestClient, cells: Cells) -> None:
    tenant = new_tenant(cell_app, cells, "b")
    place_and_pay_position(cell_app, cells, tenant)
    tenant.ledger.projections.process_all()  # as a worker would: the sale's commission accrues
    position = commit_position(tenant.ledger.projections.store)  # type: ignore[arg-type]
    finance = token(cells, Role.FINANCE, tenant.group_id)
    path = f"/brands/{tenant.world.brand_id}/periods/2026-11/audit"
    audited = cell_app.get(path, headers={**finance, "Read-After": position})
    assert audited.status_code == 200, audited.text
    assert audited.headers["read-source"] == "replica"
    on_primary = tenant.ledger.settlement_audit().run(tenant.world.brand_id, "2026-11")
    assert audited.json()["events_replayed"] == on_primary.events_replayed > 0
    assert audited.json()["clean"]


def test_an_audit_the_replica_cannot_reach_in_time_replays_the_primary(
    cell_app: TestClient, cells: Cells
) -> None:
    tenant = new_tenant(cell_app, cells, "b")
    finance = token(cells, Role.FINANCE, tenant.group_id)
    path = f"/brands/{tenant.world.brand_id}/periods/2026-11/audit"
    beyond = cell_app.get(path, headers={**finance, "Read-After": "FFFFFFFF/0"})
    assert beyond.status_code == 200
    assert beyond.headers["read-source"] == "primary"
    plain = new_tenant(cell_app, cells, "a")
    audited = cell_app.get(
        f"/brands/{plain.world.brand_id}/periods/2026-11/audit",
        headers=token(cells, Role.FINANCE, plain.group_id),
    )
    assert audited.headers["read-source"] == "primary"
