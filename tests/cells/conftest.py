"""Cells for the tests: two PostgreSQL clusters of their own and a streaming replica of the
second, started once per session from the installed binaries; a directory of their own
and a home store for each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from pydantic import SecretStr

from guideledger.api.app import create_app
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.cells.cells import Cells, open_cells
from guideledger.composition import Ledger
from guideledger.organisation.domain.group import Group
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.throwaway_postgres import Cluster, throwaway_cluster
from tests.world import World, build_world


@dataclass(frozen=True)
class Servers:
    a: Cluster
    b: Cluster
    b_replica: Cluster


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """Cell a's primary; cell b's primary and its streaming replica."""
    with throwaway_cluster() as a, throwaway_cluster() as b:
        replica = b.replica()
        try:
            yield Servers(a, b, replica)
        finally:
            replica.destroy()


@pytest.fixture
def directory_url(postgres_url: str) -> Iterator[str]:
    """A directory of the test's own: a fresh schema on the shared server."""
    name = f"dir_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield f"{postgres_url}?options=-csearch_path%3D{name}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def cell_settings(postgres_url: str, postgres_schema: str, directory_url: str) -> Settings:
    """The home store in the test's schema on the shared server, and the test's directory."""
    return Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(postgres_url),
        postgres_schema=postgres_schema,
        postgres_pool_size=4,
        directory_url=SecretStr(directory_url),
        cell_pool_size=4,
    )


@pytest.fixture
def cells(cell_settings: Settings, clock: ManualClock, servers: Servers) -> Iterator[Cells]:
    """Cells a and b (b with its replica) in the test's directory."""
    with open_cells(cell_settings, clock) as cells:
        assert cells.directory is not None
        cells.directory.add_cell("a", servers.a.url)
        cells.directory.add_cell("b", servers.b.url, [servers.b_replica.url])
        yield cells


@pytest.fixture
def cell_app(cells: Cells) -> Iterator[TestClient]:
    with TestClient(create_app(cells=cells)) as client:
        yield client


def token(cells: Cells, role: Role, group_id: UUID | None, **scope: UUID) -> dict[str, str]:
    caller = Caller("test", role, group_id, **scope)
    return {"Authorization": f"Bearer {issue_token(cells.home.settings, caller)}"}


@dataclass(frozen=True)
class Tenant:
    """A group on a cell, with a brand, stores, a guide and a member built in its store."""

    group_id: UUID
    world: World
    ledger: Ledger
    admin: dict[str, str]
    frontend: dict[str, str]
    code: str = ""


def new_tenant(client: TestClient, cells: Cells, cell_id: str | None) -> Tenant:
    """A group the platform's admins create over HTTP (on `cell_id`, or the least loaded)."""
    code = f"G-{uuid.uuid4().hex[:8].upper()}"
    platform = token(cells, Role.PLATFORM_ADMIN, None)
    body: dict[str, Any] = {"code": code, "name": code}
    if cell_id is not None:
        body["cell_id"] = cell_id
    created = client.post("/groups", json=body, headers=platform)
    assert created.status_code == 201, created.text
    group_id = Group.create_id(code)
    ledger = cells.ledger_for(group_id)
    world = build_world(ledger, group_code=code)
    return Tenant(
        group_id,
        world,
        ledger,
        token(cells, Role.ADMIN, group_id),
        token(cells, Role.FRONTEND, group_id),
        code,
    )
