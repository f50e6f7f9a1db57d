"""kill -9 the API process while clients place orders over HTTP, start it again, and let
the clients retry what was not acknowledged with the same idempotency keys: every order
exists exactly once, and every acknowledged one with the id the client was given."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from eventsourcing.utils import get_topic

from guideledger.api.auth import Caller, Role, issue_token
from guideledger.composition import Ledger
from guideledger.orders.domain.order import Order
from tests.api.test_orders_api import order_body
from tests.ports import free_port
from tests.world import build_world, receive

CLIENTS, ORDERS_EACH = 4, 20
ROOT = Path(__file__).resolve().parents[2]


class Service:
    """`guideledger serve` in its own process, on the test's PostgreSQL schema."""

    def __init__(self, ledger: Ledger) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "GUIDELEDGER_PERSISTENCE": "postgres",
            "GUIDELEDGER_DATABASE_URL": str(ledger.settings.database_url),
            "GUIDELEDGER_POSTGRES_SCHEMA": ledger.settings.postgres_schema,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "guideledger.api.cli", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with httpx.Client() as probe:
            for _ in range(300):
                try:
                    if probe.get(f"{self.url}/health", timeout=1).status_code == 200:
                        self.up.set()
                        return
                except httpx.TransportError:
                    self.up.wait(0.05)
        raise RuntimeError("the service did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.up.clear()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def service(pg_ledger: Ledger) -> Iterator[Service]:
    service = Service(pg_ledger)
    yield service
    if service.process and service.process.poll() is None:
        service.process.terminate()
        service.process.wait(timeout=10)


def test_a_killed_api_loses_no_acknowledged_order_and_duplicates_none(
    pg_ledger: Ledger, service: Service
) -> None:
    world = build_world(pg_ledger)
    receive(pg_ledger, world.warehouse_id, world.sku_ids[0], 10_000)
    receive(pg_ledger, world.warehouse_id, world.sku_ids[1], 10_000)
    token = issue_token(pg_ledger.settings, Caller("mall", Role.FRONTEND))
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
