"""A group's store moves from cell a to cell b while the service runs: everything it held
reads the same on b, writes land on b, nothing acknowledged is lost, the other groups
never pause, and the store it left stays, frozen, until an operator drops it."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner

from guideledger.api.app import create_app
from guideledger.api.auth import Role
from guideledger.api.cli import cli
from guideledger.cells import cells as cells_module
from guideledger.cells import moving
from guideledger.cells.cells import Cells, open_cells
from guideledger.cells.directory import (
    Directory,
    PlacementChanged,
    UnknownCell,
    store_schema,
)
from guideledger.cells.moving import (
    POSITIONS,
    CannotMove,
    StoreInUse,
    TargetOccupied,
    drop_former_store,
    move_group,
)
from guideledger.cells.workers import work
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.group import Group
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Settings
from guideledger.readmodels.model import Table
from tests.api.test_orders_api import order_body
from tests.cells.conftest import Servers, Tenant, new_tenant, token
from tests.cells.test_two_cells import place_and_pay
from tests.world import build_world, receive

PLACED = get_topic(Order.Placed)


def platform(cells: Cells) -> dict[str, str]:
    return token(cells, Role.PLATFORM_ADMIN, None)


def directory_of(cells: Cells) -> Directory:
    assert cells.directory is not None
    return cells.directory


def burn_transactions_until_ahead(ahead: str, behind: str, by: int = 10_000) -> None:
    """Cell `ahead`'s server gives transaction ids past `behind`'s: the ids of the events
    it gave would sort after every one `behind` gives, but for the store's offset."""
    with psycopg.connect(behind) as connection:
        row = connection.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    assert row is not None
    with psycopg.connect(ahead, autocommit=True) as connection:
        mine = connection.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert mine is not None
        connection.execute(
            sql.SQL(
                "DO $$ BEGIN FOR i IN 1..{} LOOP PERFORM pg_current_xact_id(); COMMIT; "
                "END LOOP; END $$"
            ).format(max(0, row[0] - mine[0] + by))
        )


def rows(url: str, schema: str, table: str, where: str = "true") -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                sql.Identifier(schema, table), sql.SQL(where)
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


def indexes(url: str, schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as connection:
        found = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
    return [(str(name), str(definition)) for name, definition in found]


def schema_exists(url: str, schema: str) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    return row == (1,)


def placed_orders(url: str, schema: str) -> list[str]:
    with psycopg.connect(url) as connection:
        found = connection.execute(
            sql.SQL("SELECT originator_id FROM {} WHERE topic = %s").format(
                sql.Identifier(schema, "orders_events")
            ),
            (PLACED,),
        ).fetchall()
    return [str(order_id) for (order_id,) in found]


def available(client: TestClient, tenant: Tenant) -> dict[str, int]:
    """The store's stock as its read model has it, caught up by the read."""
    read = client.get(f"/nodes/{tenant.world.store_id}/stock", headers=tenant.frontend)
    assert read.status_code == 200, read.text
    return {position["sku_id"]: position["available"] for position in read.json()}


def test_a_group_moves_with_its_paid_orders_and_its_former_store_stays(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    schema = store_schema(tenant.group_id)
    burn_transactions_until_ahead(servers.a.url, servers.b.url)
    orders = [place_and_pay(cell_app, cells, tenant) for _ in range(3)]
    made_at_run_time = Table("made_at_run_time", ("id",), {"id": "uuid", "n": "int"}, (("n",),))
    tenant.ledger.projections.store.create_tables([made_at_run_time])  # as a candidate view's
    tenant.ledger.projections.store.insert_if_absent(made_at_run_time, (uuid.uuid4(),), {"n": 1})
    read_before = {o: cell_app.get(f"/orders/{o}", headers=tenant.admin).json() for o in orders}
    stock_before = available(cell_app, tenant)
    steps: list[str] = []

    moved = move_group(cells, tenant.group_id, "b", steps.append)

    placement = directory_of(cells).placement(tenant.group_id)
    assert placement is not None
    assert (placement.cell_id, placement.schema) == ("b", schema)
    read_after = {o: cell_app.get(f"/orders/{o}", headers=tenant.admin).json() for o in orders}
    assert read_after == read_before
    assert available(cell_app, tenant) == stock_before
    for table in ("orders_events", "organisation_events", "member_keys", POSITIONS):
        assert moved.tables[table].rows == rows(servers.a.url, schema, table) > 0
        assert rows(servers.b.url, schema, table) == moved.tables[table].rows
    assert len(moved.digest) == 32
    assert rows(servers.b.url, schema, "made_at_run_time") == 1
    assert indexes(servers.b.url, schema) == indexes(servers.a.url, schema)
    assert any("verified" in step for step in steps)
    former = directory_of(cells).former_stores()
    assert [(f.group_id, f.cell_id, f.schema) for f in former] == [(tenant.group_id, "a", schema)]

    events_left_behind = rows(servers.a.url, schema, "orders_events")
    new_order = place_and_pay(cell_app, cells, tenant)
    assert new_order in placed_orders(servers.b.url, schema)
    assert new_order not in placed_orders(servers.a.url, schema)
    assert rows(servers.a.url, schema, "orders_events") == events_left_behind  # intact
    # The new events come after the copied ones, though b's transaction ids are behind a's:
    # the stock read model on b has followed them.
    sku = str(tenant.world.sku_ids[0])
    assert available(cell_app, tenant)[sku] == stock_before[sku] - 2


class Placer(threading.Thread):
    """Places orders for one group, each with a key of its own, until told to stop; an
    order refused because its group is moving is sent again with its key."""

    def __init__(self, client: TestClient, tenant: Tenant, stopping: threading.Event) -> None:
        super().__init__()
        self.client, self.tenant, self.stopping = client, tenant, stopping
        self.acknowledged: list[str] = []
        self.refused_while_moving: set[str] = set()
        self.failures: list[str] = []
        self.placed = threading.Condition()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                order_id = self.place(f"load-{uuid.uuid4()}")
                if order_id is None:
                    return
                with self.placed:
                    self.acknowledged.append(order_id)
                    self.placed.notify_all()
        except Exception as error:  # the test reports it
            self.failures.append(repr(error))

    def place(self, key: str) -> str | None:
        headers = {**self.tenant.frontend, "Idempotency-Key": key}
        for _attempt in range(200):
            body = order_body(self.tenant.world)
            answer = self.client.post("/orders", json=body, headers=headers)
            if answer.status_code == 201:
                return str(answer.json()["id"])
            if answer.status_code == 503 and answer.json()["type"].endswith("/group-moving"):
                assert answer.headers["Retry-After"] == "1"
                self.refused_while_moving.add(key)
                threading.Event().wait(0.02)
                continue
            self.failures.append(f"{answer.status_code} {answer.text}")
            return None
        self.failures.append(f"{key}: still refused while moving")
        return None

    def wait_for(self, count: int) -> None:
        def placed_or_stopped() -> bool:
            return len(self.acknowledged) >= count or not self.is_alive()

        with self.placed:
            placed = self.placed.wait_for(placed_or_stopped, timeout=30)
        assert not self.failures, self.failures
        assert placed


def test_under_load_nothing_acknowledged_is_lost_and_no_other_group_pauses(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    moving = new_tenant(cell_app, cells, "a")
    bystanders = [new_tenant(cell_app, cells, "a"), new_tenant(cell_app, cells, "b")]
    for tenant in (moving, *bystanders):
        for sku_id in tenant.world.sku_ids:
            receive(tenant.ledger, tenant.world.store_id, sku_id, 1000)
    stopping = threading.Event()
    placers = [Placer(cell_app, tenant, stopping) for tenant in (moving, *bystanders)]
    for placer in placers:
        placer.start()
    try:
        for placer in placers:
            placer.wait_for(3)
        move_group(cells, moving.group_id, "b")
        placers[0].wait_for(len(placers[0].acknowledged) + 3)  # and more on b
    finally:
        stopping.set()
        for placer in placers:
            placer.join()

    for placer in placers:
        assert not placer.failures, placer.failures
    for bystander in placers[1:]:
        assert not bystander.refused_while_moving  # never paused: no 503 at all
    acknowledged = placers[0].acknowledged
    on_target = placed_orders(servers.b.url, store_schema(moving.group_id))
    assert sorted(on_target) == sorted(set(acknowledged))  # every one, exactly once
    assert len(acknowledged) == len(set(acknowledged))  # a retried key answered its order


def test_a_write_reaching_the_former_store_is_refused_and_its_retry_reaches_the_new_one(
    cell_app: TestClient,
    cells: Cells,
    cell_settings: Settings,
    clock: ManualClock,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    # Another process read the placement just before the move and trusts it a while.
    monkeypatch.setattr(cells_module, "PLACEMENT_SECONDS", 600.0)
    with open_cells(cell_settings, clock) as other, TestClient(create_app(cells=other)) as stale:
        place_and_pay(stale, other, tenant)
        move_group(cells, tenant.group_id, "b")
        headers = {**tenant.frontend, "Idempotency-Key": "sent-during-the-move"}

        refused = stale.post("/orders", json=order_body(tenant.world), headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("/group-moving")
        assert refused.headers["Retry-After"] == "1"
        retried = stale.post("/orders", json=order_body(tenant.world), headers=headers)
        assert retried.status_code == 201, retried.text

    schema = store_schema(tenant.group_id)
    assert retried.json()["id"] in placed_orders(servers.b.url, schema)
    assert len(placed_orders(servers.a.url, schema)) == 1  # the one placed before the move


def test_a_move_is_refused_for_a_group_in_the_home_store_on_its_own_cell_or_to_no_cell(
    cell_app: TestClient, cells: Cells
) -> None:
    build_world(cells.home, group_code="G-HOME")  # a group in the home store
    with pytest.raises(CannotMove, match="home store"):
        move_group(cells, Group.create_id("G-HOME"), "b")
    tenant = new_tenant(cell_app, cells, "a")
    with pytest.raises(CannotMove, match="on cell a already"):
        move_group(cells, tenant.group_id, "a")
    with pytest.raises(UnknownCell):
        move_group(cells, tenant.group_id, "z")
    path, body = f"/groups/{tenant.group_id}/moves", {"to_cell_id": "a"}
    refused = cell_app.post(path, json=body, headers=platform(cells))
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/cannot-move")
    assert cell_app.post(path, json={"to_cell_id": "b"}, headers=tenant.admin).status_code == 403
    placement = directory_of(cells).placement(tenant.group_id)
    assert placement is not None
    assert placement.cell_id == "a"
    assert directory_of(cells).former_stores() == []


def test_an_operator_moves_a_group_and_drops_the_store_it_left(
    cell_app: TestClient,
    cells: Cells,
    cell_settings: Settings,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    order_id = place_and_pay(cell_app, cells, tenant)
    schema = store_schema(tenant.group_id)
    for name, value in _environment(cell_settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    moved = runner.invoke(cli, ["cells", "move", str(tenant.group_id), "--to", "b"])
    assert moved.exit_code == 0, moved.output
    assert "verified" in moved.output
    assert f"drop-former a {schema}" in moved.output
    with pytest.raises(TargetOccupied):  # back to a, while the store it left is there
        move_group(cells, tenant.group_id, "a")
    in_use = runner.invoke(cli, ["cells", "drop-former", "b", schema])
    assert in_use.exit_code == 1
    assert "placed" in in_use.output
    with pytest.raises(StoreInUse):
        drop_former_store(directory_of(cells), "b", schema)

    dropped = runner.invoke(cli, ["cells", "drop-former", "a", schema])
    assert dropped.exit_code == 0, dropped.output
    assert not schema_exists(servers.a.url, schema)
    assert directory_of(cells).former_stores() == []
    # The group can go back now, and its order with it.
    move_group(cells, tenant.group_id, "a")
    assert cell_app.get(f"/orders/{order_id}", headers=tenant.admin).status_code == 200
    assert [f.cell_id for f in directory_of(cells).former_stores()] == ["b"]


def _environment(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.directory_url is not None
    return {
        "GUIDELEDGER_PERSISTENCE": "postgres",
        "GUIDELEDGER_DATABASE_URL": settings.database_url.get_secret_value(),
        "GUIDELEDGER_POSTGRES_SCHEMA": settings.postgres_schema,
        "GUIDELEDGER_DIRECTORY_URL": settings.directory_url.get_secret_value(),
    }


def test_a_worker_lets_go_of_the_store_left_and_serves_the_new_one(
    cell_app: TestClient, cells: Cells, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    schema = store_schema(tenant.group_id)
    stopping = threading.Event()
    worker = threading.Thread(target=work, args=(cells, stopping))
    with caplog.at_level(logging.INFO, logger="guideledger.worker"):
        worker.start()
        try:
            place_and_pay(cell_app, cells, tenant)
            until(lambda: rows(servers.a.url, schema, "commissions_events") > 0)  # accrued
            accrued = rows(servers.a.url, schema, "commissions_events")
            moved = cell_app.post(
                f"/groups/{tenant.group_id}/moves",
                json={"to_cell_id": "b"},
                headers=platform(cells),
            )
            assert moved.status_code == 200, moved.text
            assert (moved.json()["cell_id"], moved.json()["former_cell_id"]) == ("b", "a")
            place_and_pay(cell_app, cells, tenant)
            until(lambda: rows(servers.b.url, schema, "commissions_events") > accrued)
            until(lambda: f"let go of the store a/{schema}" in caplog.text)
        finally:
            stopping.set()
            worker.join()
    assert rows(servers.a.url, schema, "commissions_events") == accrued  # frozen as it left


def until(condition: Callable[[], bool], attempts: int = 300) -> None:
    """Waits (a bounded while) for the worker to have done something."""
    pause = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        pause.wait(0.05)
    raise AssertionError("the worker did not get there")


@pytest.mark.parametrize(
    ("step", "failure"),
    [
        ("_verify", moving.CopyDiffers("orders_events: the copy holds a row fewer")),
        ("_switch", PlacementChanged("another move switched the group first")),  # frozen then
    ],
    ids=["copy-differs", "switch-lost"],
)
def test_a_move_that_fails_leaves_the_group_where_it_was_and_writable(
    cell_app: TestClient,
    cells: Cells,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    failure: Exception,
) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    schema = store_schema(tenant.group_id)
    place_and_pay(cell_app, cells, tenant)
    if step == "_switch":
        monkeypatch.setattr(Directory, "switch", lambda *_: _raise(failure))
    else:
        monkeypatch.setattr(moving._Move, step, lambda *_: _raise(failure))

    with pytest.raises(type(failure)):
        move_group(cells, tenant.group_id, "b")

    placement = directory_of(cells).placement(tenant.group_id)
    assert placement is not None
    assert placement.cell_id == "a"
    assert directory_of(cells).former_stores() == []
    assert not schema_exists(servers.b.url, schema)
    after = place_and_pay(cell_app, cells, tenant)  # not frozen
    assert after in placed_orders(servers.a.url, schema)


def _raise(failure: Exception) -> None:
    raise failure
