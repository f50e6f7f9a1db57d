"""Processes starting together on one PostgreSQL schema (server workers, an audit's
parts) all start: creating its tables and functions takes turns."""

from __future__ import annotations

import psycopg
from psycopg import sql
from pydantic import SecretStr

from guideledger.bootstrap import bootstrap
from guideledger.platform.settings import Persistence, Settings
from tests.integration.test_concurrent_commands import race

STARTS = 6


def test_ledgers_starting_together_on_one_schema_all_start(
    postgres_url: str, postgres_schema: str
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # a start creates it
        connection.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(postgres_schema)))
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(postgres_url),
        postgres_schema=postgres_schema,
        postgres_pool_size=1,
    )
    for _ in range(3):  # on a new schema, then on one whose tables are all there
        ledgers = race(STARTS, lambda _n: bootstrap(settings))
        for ledger in ledgers:
            ledger.close()
    ledger = bootstrap(settings)
    assert ledger.orders.recorder.max_notification_id() is None  # the tables are there, empty
    ledger.close()
