"""Keys held across processes with advisory locks on real PostgreSQL: while one process's
turn holds a key no other can take it; a database refusing the lock never stops a turn."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from guideledger.eventstore.advisory_locks import AdvisoryLocks, lock_id


@pytest.fixture
def namespace(postgres_schema: str) -> str:
    return f"{postgres_schema}/orders"


@pytest.fixture
def locks(postgres_url: str, namespace: str) -> Iterator[AdvisoryLocks]:
    held = AdvisoryLocks(postgres_url, namespace)
    yield held
    held.close()


def free_elsewhere(postgres_url: str, namespace: str, key: object) -> bool:
    """Whether another session could take the key's lock now (it lets it go at once)."""
    with psycopg.connect(postgres_url, autocommit=True) as other:
        row = other.execute(
            "SELECT pg_try_advisory_lock(%s)", (lock_id(namespace, key),)
        ).fetchone()
        return bool(row and row[0])


def test_a_held_key_cannot_be_taken_elsewhere_until_the_turn_ends(
    locks: AdvisoryLocks, postgres_url: str, namespace: str
) -> None:
    sku, other_sku = uuid4(), uuid4()
    with locks.holding(frozenset({sku})):
        assert not free_elsewhere(postgres_url, namespace, sku)
        assert free_elsewhere(postgres_url, namespace, other_sku)
    assert free_elsewhere(postgres_url, namespace, sku)


def test_keys_of_another_schema_or_application_are_other_locks(
    locks: AdvisoryLocks, postgres_url: str, namespace: str
) -> None:
    sku = uuid4()
    with locks.holding(frozenset({sku})):
        assert free_elsewhere(postgres_url, f"{namespace}-other", sku)


def test_a_turn_goes_on_without_the_keys_if_the_database_refuses(namespace: str) -> None:
    unreachable = AdvisoryLocks("postgresql://postgres@127.0.0.1:1/test", namespace)
    ran = []
    with unreachable.holding(frozenset({uuid4()})):
        ran.append(True)
    assert ran == [True]
    unreachable.close()


def test_a_failing_turn_still_lets_its_keys_go(
    locks: AdvisoryLocks, postgres_url: str, namespace: str
) -> None:
    sku = uuid4()
    with pytest.raises(RuntimeError), locks.holding(frozenset({sku})):
        raise RuntimeError("the turn failed")
    assert free_elsewhere(postgres_url, namespace, sku)
