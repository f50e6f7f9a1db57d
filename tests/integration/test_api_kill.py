"""kill -9 the API process while clients place orders over HTTP, start it again, and let
the clients retry what was not acknowledged with the same idempotency keys: every order
exists exactly once, and every acknowledged one with the id the client was given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from eventsourcing.utils import get_topic

from guideledger.api.auth import Caller, Role, issue_token
from guideledger.composition import Ledger
from guideledger.orders.domain.order import Order
from tests.api.test_orders_api import order_body
from tests.served import Service
from tests.world import GROUP_ID, build_world, receive

CLIENTS, ORDERS_EACH = 4, 20


@pytest.fixture
def service(pg_ledger: Ledger) -> Iterator[Service]:
    """One server process, the one to kill (its worker goes with it)."""
    service = Service(pg_ledger, "--workers", "1")
    yield service
    service.stop()


def test_a_killed_api_loses_no_acknowledged_order_and_duplicates_none(
    pg_ledger: Ledger, service: Service
) -> None:
    world = build_world(pg_ledger)
    receive(pg_ledger, world.warehouse_id, world.sku_ids[0], 10_000)
    receive(pg_ledger, world.warehouse_id, world.sku_ids[1], 10_000)
    token = issue_token(pg_ledger.settings, Caller("mall", Role.FRONTEND, GROUP_ID))
    body = order_body(world)
    service.start()
    acknowledged: dict[str, str] = {}
    lock, halfway = threading.Lock(), threading.Event()

    def client(n: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
            for k in range(ORDERS_EACH):
                key = f"c{n}-o{k}"
                for _attempt in range(100):
                    try:
                        response = http.post(
                            f"{service.url}/orders",
                            json=body,
                            headers={"Idempotency-Key": key},
                            timeout=10,
                        )
                        if response.status_code == 201:
                            break
                    except httpx.TransportError:
                        pass
                    service.up.wait(timeout=30)  # retry once the service is back
                else:
                    pytest.fail(f"{key} was never acknowledged")
                with lock:
                    acknowledged[key] = response.json()["id"]
                    if len(acknowledged) == CLIENTS * ORDERS_EACH // 3:
                        halfway.set()

    with ThreadPoolExecutor(CLIENTS) as pool:
        running = [pool.submit(client, n) for n in range(CLIENTS)]
        assert halfway.wait(timeout=120)
        service.kill()
        service.start()
        for future in running:
            future.result(timeout=300)

    placed = pg_ledger.orders.recorder.select_notifications(
        start=1, limit=100_000, topics=[get_topic(Order.Placed)]
    )
    stored = sorted(str(n.originator_id) for n in placed)
    assert len(acknowledged) == CLIENTS * ORDERS_EACH
    assert stored == sorted(acknowledged.values())
