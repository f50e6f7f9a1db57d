"""A cell whose primary goes down: only its own groups are refused (503, nothing
written) while the other cell's groups are served, and the same app serves them again
once it is back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import psycopg
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.cells.cells import Cells, open_cells
from guideledger.cells.directory import store_schema
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Settings
from tests.api.test_orders_api import order_body
from tests.cells.conftest import Servers, Tenant, new_tenant
from tests.cells.test_two_cells import place_and_pay

BURST = 60  # more than the server's threads for requests (anyio's 40)


@contextmanager
def cell_a_down(servers: Servers) -> Iterator[None]:
    """Cell a's primary stopped, as a crash would, and started again whatever happens
    (the clusters serve the session's other tests)."""
    servers.a.stop()
    try:
        yield
    finally:
        servers.a.start()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/cell-unavailable")


def orders_recorded(servers: Servers, tenant: Tenant) -> int:
    with psycopg.connect(servers.a.url) as connection:
        table = f'"{store_schema(tenant.group_id)}".orders_events'
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def served_again(request: Callable[[], httpx.Response], expected: int) -> httpx.Response:
    """The response once the request is served (polled: a refused cell is tried again a
    moment later); fails if it never is."""
    waiting = threading.Event()
    response = request()
    for _ in range(100):
        if response.status_code != 503:
            break
        waiting.wait(0.1)
        response = request()
    assert response.status_code == expected, response.text
    return response


def test_only_the_groups_of_an_unreachable_cell_are_refused_until_it_returns(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    on_a, on_b = new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")
    order_on_a = place_and_pay(cell_app, cells, on_a)
    recorded = orders_recorded(servers, on_a)

    def read_on_a() -> httpx.Response:
        return cell_app.get(f"/orders/{order_on_a}", headers=on_a.admin)

    def place_on_a() -> httpx.Response:
        return cell_app.post("/orders", json=order_body(on_a.world), headers=on_a.frontend)

    with cell_a_down(servers):
        assert_unavailable(read_on_a())
        assert_unavailable(place_on_a())
        order_on_b = place_and_pay(cell_app, cells, on_b)
        assert cell_app.get(f"/orders/{order_on_b}", headers=on_b.admin).status_code == 200
        assert_unavailable(place_on_a())

    assert orders_recorded(servers, on_a) == recorded  # the refused order left nothing
    assert served_again(read_on_a, 200).json()["id"] == order_on_a
    served_again(place_on_a, 201)
    assert cell_app.get(f"/orders/{order_on_b}", headers=on_b.admin).status_code == 200


def test_a_burst_for_an_unreachable_cell_holds_up_no_other_cell(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    """More requests for the lost cell's group at once than the server has threads for
    requests: each is refused, and the other cell's group is served meanwhile."""
    on_a, on_b = new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")
    order_on_a = place_and_pay(cell_app, cells, on_a)
    answers: list[int] = []

    def read_on_a() -> None:
        answers.append(cell_app.get(f"/orders/{order_on_a}", headers=on_a.admin).status_code)

    burst = [threading.Thread(target=read_on_a) for _ in range(BURST)]
    with cell_a_down(servers):
        for request in burst:
            request.start()
        place_and_pay(cell_app, cells, on_b)
        finished = threading.Event()
        for _ in range(600):  # a bound against hanging, not a deadline
            if not any(request.is_alive() for request in burst):
                break
            finished.wait(0.1)
        assert not any(request.is_alive() for request in burst), "the lost cell's requests hang"
    assert answers == [503] * BURST


def test_a_store_first_opened_during_the_outage_is_served_once_the_cell_returns(
    cell_app: TestClient,
    cells: Cells,
    servers: Servers,
    cell_settings: Settings,
    clock: ManualClock,
) -> None:
    on_a = new_tenant(cell_app, cells, "a")
    order_on_a = place_and_pay(cell_app, cells, on_a)
    # Another process, which has never opened the group's store.
    with open_cells(cell_settings, clock) as fresh, TestClient(create_app(cells=fresh)) as other:

        def read_on_a() -> httpx.Response:
            return other.get(f"/orders/{order_on_a}", headers=on_a.admin)

        with cell_a_down(servers):
            assert_unavailable(read_on_a())

        assert served_again(read_on_a, 200).json()["id"] == order_on_a
