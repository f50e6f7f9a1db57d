"""Shared fixtures: clocks, backends (memory, SQLite, real PostgreSQL) and ledgers.

PostgreSQL is found through DATABASE_URL, else at 127.0.0.1:5432, else a
throwaway cluster is started from the installed binaries.
When none can be had the run fails with one clear line: it never skips.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from psycopg import sql
from pydantic import SecretStr

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.feed.jetstream import FeedConfig
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import ClockMode, Persistence, Settings
from tests.nats_server import delete_stream, machine_or_own_nats, unique_config
from tests.throwaway_postgres import throwaway_cluster

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
BACKENDS = [Persistence.MEMORY, Persistence.SQLITE, Persistence.POSTGRES]


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES_URL
    if _reachable(url):
        yield url
        return
    try:
        cluster = throwaway_cluster()
        throwaway = cluster.__enter__()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        pytest.fail(
            f"No PostgreSQL for the tests: {url} is unreachable and no throwaway cluster "
            f"could start ({error}). Set DATABASE_URL to a server.",
            pytrace=False,
        )
    yield throwaway.url
    cluster.__exit__(None, None, None)


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def make_settings(backend: Persistence, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if backend is Persistence.POSTGRES:
        return Settings(
            persistence=backend,
            database_url=SecretStr(request.getfixturevalue("postgres_url")),
            postgres_schema=request.getfixturevalue("postgres_schema"),
            postgres_pool_size=4,
        )
    return Settings(persistence=backend, data_dir=tmp_path / "var", database_url=None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=BACKENDS, ids=str)
def backend(request: pytest.FixtureRequest) -> Persistence:
    backend: Persistence = request.param
    return backend


@pytest.fixture
def ledger(
    backend: Persistence, clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Ledger]:
    """A ledger on each backend in turn: the same test runs on all three."""
    ledger = bootstrap(make_settings(backend, request, tmp_path), clock)
    yield ledger
    ledger.close()


@pytest.fixture
def pg_ledger(
    clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Ledger]:
    """A ledger on real PostgreSQL only, for concurrency and crash tests."""
    ledger = bootstrap(make_settings(Persistence.POSTGRES, request, tmp_path), clock)
    yield ledger
    ledger.close()


@contextmanager
def sandbox_ledger(
    backend: Persistence, request: pytest.FixtureRequest, tmp_path: Path, start: datetime
) -> Iterator[Ledger]:
    """A ledger on the sandbox clock (`GUIDELEDGER_CLOCK=manual`) starting at `start`."""
    settings = make_settings(backend, request, tmp_path).model_copy(
        update={"clock": ClockMode.MANUAL, "clock_start": start}
    )
    ledger = bootstrap(settings)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """NATS with JetStream: GUIDELEDGER_NATS_URL or NATS_URL, else the machine's server at
    127.0.0.1:4222, else one started from the installed binary for the session."""
    try:
        with machine_or_own_nats(tmp_path_factory.mktemp("nats")) as url:
            yield url
    except (RuntimeError, OSError) as error:
        pytest.fail(f"No NATS server for the tests: {error}", pytrace=False)


@pytest.fixture
def feed_config(nats_url: str) -> Iterator[FeedConfig]:
    """A stream and subjects of the test's own, deleted afterwards."""
    config = unique_config(nats_url)
    yield config
    delete_stream(config)
