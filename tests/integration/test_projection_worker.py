"""`guideledger serve` on PostgreSQL: its server processes answer on uvloop and httptools
and run no projections; a worker process (`guideledger worker`) keeps the read models
and process managers current, stops with `serve`, and after a kill -9 resumes where it
was, applying every event exactly once."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from guideledger.api.auth import Caller, Role, issue_token
from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.composition import Ledger
from guideledger.fulfilment.application.projections import StockAvailability
from guideledger.platform.settings import Settings
from guideledger.processes import CommissionProcess
from guideledger.readmodels.runner import ProjectionRunner
from guideledger.readmodels.store import MemoryReadModelStore
from tests.api.conftest import notification, notify
from tests.api.test_orders_api import TOTAL, order_body
from tests.integration.test_projection_crash_safety import record_many_events, rows
from tests.served import Service, start_worker
from tests.world import (
    ADMIN,
    GROUP_ID,
    World,
    build_world,
    pay,
    place_order,
    receive,
)

GUIDE_SHARE = 951  # the default policy's 3% of one order, TOTAL fen
ORDERS, KILLS = 40, 3


@pytest.fixture
def world(pg_ledger: Ledger) -> World:
    """Stock for every order, and a commission policy in force (before the real clock's
    now, which the served processes run on)."""
    world = build_world(pg_ledger)
    for sku_id in world.sku_ids:
        receive(pg_ledger, world.warehouse_id, sku_id, 10_000)
    policy = CommissionPolicy(top_guide_bonus_fen=0, effective_from=pg_ledger.clock.now())
    pg_ledger.commissions.publish_policy(ADMIN, world.brand_id, policy)
    return world


@pytest.fixture
def services(pg_ledger: Ledger) -> Iterator[Callable[..., Service]]:
    """Starts `guideledger serve` with the options given; stops them all at the end."""
    started: list[Service] = []

    def serve(*options: str) -> Service:
        service = Service(pg_ledger, *options)
        started.append(service)
        service.start()
        return service

    yield serve
    for service in started:
        service.stop()


def admin(ledger: Ledger, url: str) -> httpx.Client:
    token = issue_token(ledger.settings, Caller("ops", Role.ADMIN, GROUP_ID))
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def place_and_pay_over_http(http: httpx.Client, world: World, settings: Settings) -> None:
    """One order placed and paid: the guide earns commission."""
    placed = http.post("/orders", json=order_body(world))
    assert placed.status_code == 201, placed.text
    body = notification(placed.json()["id"], TOTAL, datetime.now(UTC))
    paid = notify(http, settings, body)
    assert paid.status_code == 200, paid.text


def guide_pending(http: httpx.Client, world: World) -> int:
    balances = http.get(f"/payees/guide/{world.guide_id}/balances")
    assert balances.status_code == 200, balances.text
    pending: int = balances.json().get("pending", 0)
    return pending


def wait_for(done: Callable[[], bool], alive: subprocess.Popen[Any]) -> None:
    """Polls `done` while the process doing the work stays alive (at most a minute)."""
    for _ in range(1200):
        if done():
            return
        try:
            code = alive.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue  # still working
        pytest.fail(f"the process doing the work ended (exit code {code})")
    pytest.fail("the work was not done within a minute")


def test_servers_run_no_projections_and_a_worker_process_catches_them_up(
    pg_ledger: Ledger, world: World, services: Callable[..., Service]
) -> None:
    service = services("--workers", "1", "--no-worker")
    assert service.process is not None
    loaded = Path(f"/proc/{service.process.pid}/maps").read_text()
    assert "uvloop" in loaded
    assert "httptools" in loaded
    with admin(pg_ledger, service.url) as http:
        place_and_pay_over_http(http, world, pg_ledger.settings)
        assert guide_pending(http, world) == 0  # no process in the API accrues commission
        assert pg_ledger.projections.store.position(CommissionProcess.name) == 0
        worker = start_worker(pg_ledger)
        try:
            wait_for(lambda: guide_pending(http, world) == GUIDE_SHARE, worker)
        finally:
            worker.terminate()
        assert worker.wait(timeout=30) == 0  # it stops cleanly when asked


def test_serve_starts_a_worker_and_stops_it_when_it_stops(
    pg_ledger: Ledger, world: World, services: Callable[..., Service]
) -> None:
    service = services("--workers", "1")  # and, by default, a worker
    assert service.process is not None
    [worker] = [pid for pid, command in service.children().items() if " worker " in command]
    with admin(pg_ledger, service.url) as http:
        place_and_pay_over_http(http, world, pg_ledger.settings)
        wait_for(lambda: guide_pending(http, world) == GUIDE_SHARE, service.process)
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=30) == 0
    assert not Path(f"/proc/{worker}").exists()


def test_a_killed_serve_leaves_no_worker_behind(
    pg_ledger: Ledger, services: Callable[..., Service]
) -> None:
    service = services("--workers", "1")
    [worker] = [pid for pid, command in service.children().items() if " worker " in command]
    worker_ended = os.pidfd_open(worker)  # readable once the worker has ended
    try:
        service.kill()
        assert select.select([worker_ended], [], [], 60)[0], "the worker outlived serve"
    finally:
        os.close(worker_ended)


def test_a_worker_killed_mid_way_resumes_and_applies_every_event_once(
    pg_ledger: Ledger, world: World
) -> None:
    for _ in range(ORDERS):
        order_id = place_order(pg_ledger, world).id
        pay(pg_ledger, order_id)
    record_many_events(pg_ledger)  # stock moves that no order has caught up
    projections, commission_log = pg_ledger.projections, pg_ledger.commissions.recorder

    def logged() -> int:
        return commission_log.max_notification_id() or 0

    def caught_up() -> bool:
        return all(projections.caught_up(name) for name in projections.projections)

    def accrued_more_than(before: int) -> Callable[[], bool]:
        """Once true the worker is past starting up: killing it then is killing it at work."""
        return lambda: logged() > before or projections.caught_up(CommissionProcess.name)

    before_any, logged_when_killed = logged(), list[int]()
    while len(logged_when_killed) < KILLS and not projections.caught_up(CommissionProcess.name):
        worker = start_worker(pg_ledger)
        wait_for(accrued_more_than(logged()), worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        logged_when_killed.append(logged())
    finished = start_worker(pg_ledger)
    try:
        wait_for(caught_up, finished)
    finally:
        finished.terminate()
        finished.wait(timeout=30)

    pending = pg_ledger.commissions.balances(f"guide:{world.guide_id}")["pending"]
    assert pending == ORDERS * GUIDE_SHARE  # every paid order accrued, none twice
    assert any(before_any < n < logged() for n in logged_when_killed), "no kill landed mid-way"
    clean = ProjectionRunner(MemoryReadModelStore())
    clean.add_source(pg_ledger.orders)
    clean.register(StockAvailability())
    clean.process_all()
    assert rows(projections.store.select) == rows(clean.select)
