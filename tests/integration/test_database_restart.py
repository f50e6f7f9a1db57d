"""PostgreSQL restarts while clients place orders: every acknowledged command is in the
store exactly once, and the same service carries on without being restarted.

The test restarts a throwaway cluster of its own, never the shared server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic
from pydantic import SecretStr

from guideledger.bootstrap import bootstrap
from guideledger.eventstore.commands import Command, IdempotencyKey
from guideledger.orders.domain.order import Order
from guideledger.platform.settings import Persistence, Settings
from tests.throwaway_postgres import Cluster, throwaway_cluster
from tests.world import build_world, place_order, receive

CLIENTS, ORDERS_EACH = 4, 25


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as cluster:
        yield cluster


def test_acknowledged_orders_survive_a_restart_exactly_once(cluster: Cluster) -> None:
    settings = Settings(persistence=Persistence.POSTGRES, database_url=SecretStr(cluster.url))
    ledger = bootstrap(settings)
    try:
        world = build_world(ledger)
        receive(ledger, world.warehouse_id, world.sku_ids[0], 10_000)
        receive(ledger, world.warehouse_id, world.sku_ids[1], 10_000)
        restart_now, restarted = threading.Event(), threading.Event()
        acknowledged: dict[str, UUID] = {}
        lock = threading.Lock()

        def client(n: int) -> int:
            failures = 0
            for k in range(ORDERS_EACH):
                key = f"client-{n}-order-{k}"
                command = Command(f"client-{n}", IdempotencyKey(key, "same body"))
                while True:
                    try:
                        result = place_order(ledger, world, command=command)
                        break
                    except Exception:
                        failures += 1
                        assert failures < 100, "the service did not recover"
                        restarted.wait(timeout=30)
                with lock:
                    acknowledged[key] = result.id
                    if len(acknowledged) == CLIENTS * ORDERS_EACH // 2:
                        restart_now.set()
            return failures

        with ThreadPoolExecutor(CLIENTS) as pool:
            running = [pool.submit(client, n) for n in range(CLIENTS)]
            assert restart_now.wait(timeout=120)
            cluster.restart()
            restarted.set()
            failures = sum(f.result(timeout=300) for f in running)

        placed = ledger.orders.recorder.select_notifications(
            start=1, limit=100_000, topics=[get_topic(Order.Placed)]
        )
        stored = [n.originator_id for n in placed]
        assert len(acknowledged) == CLIENTS * ORDERS_EACH
        assert sorted(stored) == sorted(acknowledged.values())  # every one, none twice
        print(f"{failures} attempts failed during the restart and were retried")
    finally:
        ledger.close()
