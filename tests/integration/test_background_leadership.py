"""Of several processes on one PostgreSQL read model store, one at a time runs the
background catch-up; when it goes, another takes over."""

from __future__ import annotations

from guideledger.readmodels.postgres import PostgresReadModelStore


def test_one_store_at_a_time_leads_and_leadership_passes_on(
    postgres_url: str, postgres_schema: str
) -> None:
    first = PostgresReadModelStore(postgres_url, postgres_schema, 1)
    second = PostgresReadModelStore(postgres_url, postgres_schema, 1)
    other_schema = PostgresReadModelStore(postgres_url, f"{postgres_schema}_other", 1)
    try:
        assert first.leads_background_work()
        assert first.leads_background_work()  # it keeps leading
        assert not second.leads_background_work()
        assert other_schema.leads_background_work()  # another deployment leads its own
        first.close()
        assert second.leads_background_work()
    finally:
        for store in (first, second, other_schema):
            store.close()
