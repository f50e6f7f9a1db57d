"""How a process tells a lost cell from a busy one: a stopped server refuses every ask,
while a process busy with a burst may miss one answer and a full server is up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from guideledger.cells.watch import MISSES, Pings, answers_now
from tests.ports import free_port


@pytest.fixture
def full_url(postgres_url: str) -> Iterator[str]:
    """The shared server as a role allowed no connection: it answers 'too many'."""
    name = f"full_{uuid.uuid4().hex[:8]}"
    role = sql.Identifier(name)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 0").format(role))
    url = urlsplit(postgres_url)
    yield url._replace(netloc=f"{name}@{url.hostname}:{url.port or 5432}").geturl()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP ROLE {}").format(role))


def test_a_full_server_is_up(full_url: str) -> None:
    assert answers_now(full_url)
    pings = Pings()
    assert all(pings.answers("full", full_url) for _ in range(MISSES + 1))
    pings.close()


def test_a_cell_is_lost_only_after_missing_asks_in_a_row() -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    pings = Pings()
    answers = [pings.answers("gone", nobody) for _ in range(MISSES)]
    assert answers == [True] * (MISSES - 1) + [False]
    pings.close()


def test_an_answer_forgives_the_misses(postgres_url: str) -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    pings = Pings()
    assert pings.answers("cell", nobody)  # one miss
    assert pings.answers("cell", postgres_url)
    assert pings.answers("cell", nobody)  # one miss again, not two
    pings.close()


def test_a_server_answers_or_not(postgres_url: str) -> None:
    assert answers_now(postgres_url)
    assert not answers_now(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
