from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.bootstrap import Ledger, bootstrap
from infrastructure.clock import ManualClock
from infrastructure.settings import Persistence
from tests.conftest import make_settings
from tests.world import World, build_world


@pytest.fixture
def api_ledger(
    clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Ledger]:
    """The API's tests run on the embedded default, SQLite."""
    ledger = bootstrap(make_settings(Persistence.SQLITE, request, tmp_path), clock)
    yield ledger
    ledger.close()


@pytest.fixture
def client(api_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(api_ledger), headers={"X-Actor": "frontend:test"}) as client:
        yield client


@pytest.fixture
def world(api_ledger: Ledger) -> World:
    return build_world(api_ledger)
