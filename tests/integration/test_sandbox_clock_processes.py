"""Two `guideledger serve` processes and this one (as the command line) on one PostgreSQL
schema with `GUIDELEDGER_CLOCK=manual`: a move answered by one is the time of all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.settings import Persistence
from tests.api.conftest import bearer
from tests.api.test_orders_api import order_body
from tests.conftest import START, sandbox_ledger
from tests.served import Service
from tests.world import build_world


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with sandbox_ledger(Persistence.POSTGRES, request, tmp_path, START) as ledger:
        yield ledger


@pytest.fixture
def servers(sandbox: Ledger) -> Iterator[tuple[Service, Service]]:
    """Two services of one server process each, on the sandbox's store; the clock start
    they are given is not the store's, which stands."""
    services = [Service(sandbox, "--workers", "1", "--no-worker") for _ in range(2)]
    for service in services:
        service.env |= {
            "GUIDELEDGER_CLOCK": "manual",
            "GUIDELEDGER_CLOCK_START": "2030-01-01T00:00:00Z",
        }
    try:
        for service in services:
            service.start()
        yield services[0], services[1]
    finally:
        for service in services:
            service.stop()


def test_a_move_through_one_process_is_the_time_of_every_process(
    sandbox: Ledger, servers: tuple[Service, Service]
) -> None:
    world = build_world(sandbox)
    first, second = servers
    admin = bearer(sandbox, Role.ADMIN, "admin")
    ops = bearer(sandbox, Role.PLATFORM_ADMIN, "ops")
    with httpx.Client(headers=admin, timeout=10) as http:
        assert http.get(f"{second.url}/sandbox/clock").json() == {"now": "2026-11-02T01:00:00Z"}
        placed = http.post(f"{first.url}/orders", json=order_body(world))
        assert placed.status_code == 201, placed.text
        moved = http.post(f"{second.url}/sandbox/clock", json={"now": "2026-11-02T01:31:00Z"})
        assert moved.json() == {"now": "2026-11-02T01:31:00Z"}
        assert http.get(f"{first.url}/sandbox/clock").json() == moved.json()
        assert sandbox.clock.now() == START + timedelta(minutes=31)
        expired = http.post(f"{first.url}/operations/expire-unpaid-orders", json={}, headers=ops)
        assert expired.json() == {"expired": [placed.json()["id"]]}
        back = http.post(f"{first.url}/sandbox/clock", json={"now": START.isoformat()})
        assert back.status_code == 422
        assert http.get(f"{second.url}/sandbox/clock").json() == moved.json()
