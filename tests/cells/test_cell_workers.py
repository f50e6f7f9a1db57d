"""`guideledger worker` processes over cells: together they keep every store of every cell
current, one leading each store at a time; a killed leader's stores are taken over with
nothing lost or done twice; `--cell` narrows a worker to its cells' stores; a group
placed while they run is picked up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from guideledger.cells.cells import Cells
from guideledger.cells.directory import store_schema
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.composition import Ledger
from guideledger.platform.settings import Settings
from guideledger.processes import CommissionProcess
from guideledger.readmodels.postgres import PostgresReadModelStore
from tests.cells.conftest import Servers, Tenant, new_tenant
from tests.cells.test_cell_faults import served_again
from tests.cells.test_two_cells import place_and_pay
from tests.integration.test_projection_worker import GUIDE_SHARE

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """`guideledger worker` processes on the test's home store and directory, each named
    (its connections carry the name, so the server tells who holds a lock)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        # What they say on stderr, for the report if one ends early.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115

    def start(self, name: str, *cell_ids: str) -> None:
        assert self.settings.directory_conninfo is not None
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PGAPPNAME": name,
            "GUIDELEDGER_PERSISTENCE": "postgres",
            "GUIDELEDGER_DATABASE_URL": self.settings.database_conninfo,
            "GUIDELEDGER_POSTGRES_SCHEMA": self.settings.postgres_schema,
            "GUIDELEDGER_DIRECTORY_URL": self.settings.directory_conninfo,
        }
        self.running[name] = subprocess.Popen(
            [
                *(sys.executable, "-m", "guideledger.api.cli", "worker"),
                *(f"--cell={cell_id}" for cell_id in cell_ids),
            ],
            env=environment,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def kill(self, name: str) -> None:
        """Kills the worker at once (SIGKILL), as a crash or a lost machine would."""
        worker = self.running.pop(name)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        """Polls `done` while every worker started runs, at most a minute and a half."""
        waiting = threading.Event()
        for _ in range(900):
            if done():
                return
            ended = {name: w.returncode for name, w in self.running.items() if w.poll() is not None}
            if ended:
                pytest.fail(f"workers ended early {ended}; they said:\n{self._said()}")
            waiting.wait(0.1)
        pytest.fail(f"{what}: not done within a minute and a half; they said:\n{self._said()}")

    def _said(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name)
        self.log.close()


@pytest.fixture
def workers(cell_settings: Settings) -> Iterator[Workers]:
    started = Workers(cell_settings)
    try:
        yield started
    finally:
        started.stop_all()


def caught_up(ledger: Ledger) -> bool:
    runner = ledger.projections
    return all(runner.caught_up(name) for name in runner.projections)


def accruals(ledger: Ledger, order_id: str) -> int:
    """How many times the order's commission was accrued (its accrual's events)."""
    accrual_id = CommissionAccrual.create_id(UUID(order_id))
    return len(ledger.commissions.recorder.select_events(accrual_id))


def all_accrued(cells: Cells, tenant: Tenant, order_ids: list[str]) -> Callable[[], bool]:
    """Every order accrued and every read model of the group's store caught up with it:
    what only a worker does (no request runs the process managers)."""

    def done() -> bool:
        ledger = cells.ledger_for(tenant.group_id)  # opened afresh if its cell was lost
        return all(accruals(ledger, order_id) for order_id in order_ids) and caught_up(ledger)

    return done


def assert_accrued_once_each(cells: Cells, tenant: Tenant, order_ids: list[str]) -> None:
    ledger = cells.ledger_for(tenant.group_id)
    assert [accruals(ledger, order_id) for order_id in order_ids] == [1] * len(order_ids)
    guide = f"guide:{tenant.world.guide_id}"
    assert ledger.commissions.balances(guide)["pending"] == GUIDE_SHARE * len(order_ids)


def leader(servers: Servers, cell_id: str, tenant: Tenant) -> str | None:
    """The worker holding the lock that leads the group's store's background work."""
    url = {"a": servers.a.url, "b": servers.b.url}[cell_id]
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.objid::bigint = hashtext(%s)::bigint & 4294967295",
            (f"guideledger-projections:{store_schema(tenant.group_id)}",),
        ).fetchone()
    return None if row is None else str(row[0])


def pay_orders(client: TestClient, cells: Cells, tenant: Tenant, count: int) -> list[str]:
    return [place_and_pay(client, cells, tenant) for _ in range(count)]


def test_workers_keep_every_cell_current_and_a_killed_leaders_work_is_taken_over_once(
    cell_app: TestClient, cells: Cells, servers: Servers, workers: Workers
) -> None:
    tenants = {cell_id: new_tenant(cell_app, cells, cell_id) for cell_id in ("a", "b")}
    paid = {cell_id: pay_orders(cell_app, cells, t, 3) for cell_id, t in tenants.items()}
    workers.start("worker-1")
    workers.start("worker-2")
    for cell_id, tenant in tenants.items():
        workers.wait_until(all_accrued(cells, tenant, paid[cell_id]), f"cell {cell_id} caught up")
    workers.wait_until(lambda: caught_up(cells.home), "the home store caught up")

    leading = leader(servers, "a", tenants["a"])
    assert leading in {"worker-1", "worker-2"}
    survivor = ({"worker-1", "worker-2"} - {leading}).pop()
    for cell_id, tenant in tenants.items():
        paid[cell_id] += pay_orders(cell_app, cells, tenant, 2)
    workers.kill(leading)
    for cell_id, tenant in tenants.items():
        paid[cell_id] += pay_orders(cell_app, cells, tenant, 2)

    for cell_id, tenant in tenants.items():
        workers.wait_until(all_accrued(cells, tenant, paid[cell_id]), f"cell {cell_id} taken over")
        assert leader(servers, cell_id, tenant) == survivor
        assert_accrued_once_each(cells, tenant, paid[cell_id])


def test_a_worker_serves_only_the_cells_named_and_picks_up_groups_placed_meanwhile(
    cell_app: TestClient, cells: Cells, workers: Workers
) -> None:
    workers.start("worker-b", "b")
    on_a, on_b = new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")
    paid_on_a, paid_on_b = (
        pay_orders(cell_app, cells, on_a, 2),
        pay_orders(cell_app, cells, on_b, 2),
    )

    workers.wait_until(all_accrued(cells, on_b, paid_on_b), "the group placed on b meanwhile")
    assert [accruals(on_a.ledger, order_id) for order_id in paid_on_a] == [0, 0]
    assert on_a.ledger.projections.store.position(CommissionProcess.name) == 0

    workers.start("worker-a", "a")
    workers.wait_until(
        all_accrued(cells, on_a, paid_on_a), "the group on a, once a worker serves a"
    )
    assert_accrued_once_each(cells, on_a, paid_on_a)
    assert_accrued_once_each(cells, on_b, paid_on_b)


def test_a_worker_carries_on_once_its_cells_server_restarted(
    cell_app: TestClient, cells: Cells, servers: Servers, workers: Workers
) -> None:
    on_a = new_tenant(cell_app, cells, "a")
    paid = pay_orders(cell_app, cells, on_a, 2)
    workers.start("worker-1")
    workers.wait_until(all_accrued(cells, on_a, paid), "the group on a")

    servers.a.restart()
    served_again(lambda: cell_app.get(f"/orders/{paid[0]}", headers=on_a.admin), 200)
    paid += pay_orders(cell_app, cells, on_a, 2)
    workers.wait_until(all_accrued(cells, on_a, paid), "the group on a, after the restart")
    assert_accrued_once_each(cells, on_a, paid)


def test_a_leader_whose_server_restarted_leads_no_more_until_it_wins_again(
    servers: Servers, postgres_schema: str
) -> None:
    first = PostgresReadModelStore(servers.a.url, postgres_schema, 1)
    second = PostgresReadModelStore(servers.a.url, postgres_schema, 1)
    try:
        assert first.leads_background_work()
        servers.a.restart()  # the lock went with the server's sessions
        assert second.leads_background_work()
        assert not first.leads_background_work()
        assert second.leads_background_work()
    finally:
        first.close()
        second.close()
