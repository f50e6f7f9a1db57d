"""A command's reads come from the cache when the log shows nothing newer (real
PostgreSQL, two ledgers on one database as two processes would be): what another process
changed counts at the next command, and a decision on a read the log had not shown yet
loses its race on the aggregate's version and is decided again from the store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.eventstore.recorder import TransactionOrderRecorder
from guideledger.fulfilment.domain.routing import RoutingPolicy
from guideledger.fulfilment.domain.stock import Stock
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence
from tests.conftest import make_settings
from tests.world import ADMIN, STORE_STOCK, build_world, place_order


@pytest.fixture
def other(
    pg_ledger: Ledger, clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Ledger]:
    """A second process on the same database."""
    ledger = bootstrap(make_settings(Persistence.POSTGRES, request, tmp_path), clock)
    yield ledger
    ledger.close()


def test_a_guide_who_left_in_another_process_is_no_longer_credited(
    pg_ledger: Ledger, other: Ledger
) -> None:
    world = build_world(pg_ledger)
    first = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)
    other.organisation.record_guide_left(ADMIN, world.guide_id, "moved away")
    second = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)
    assert first.attribution is not None
    assert first.attribution.guide_id == world.guide_id
    assert second.attribution is None or second.attribution.guide_id != world.guide_id


def test_a_policy_published_in_another_process_routes_the_next_order(
    pg_ledger: Ledger, other: Ledger, clock: ManualClock
) -> None:
    """The policy book did not exist when the first order looked for it."""
    world = build_world(pg_ledger)
    first = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)
    policy = replace(RoutingPolicy(), effective_from=clock.now(), distance_band_km=50)
    other.routing.publish_policy(ADMIN, world.brand_id, policy)
    second = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)
    assert first.routing is not None
    assert first.routing.policy_version == 0
    assert second.routing is not None
    assert second.routing.policy_version == 1


def test_a_decision_on_a_read_the_log_has_not_shown_is_decided_again(
    pg_ledger: Ledger, other: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's stock as this process last saved it; another process then takes all
    that is left. With the log not showing that yet (to the cache's check and the routing
    view alike), the order is decided on the stale stock, loses its race on the stock's
    version, and is decided again: no oversell."""
    world = build_world(pg_ledger)
    place_order(pg_ledger, world, (1, 1))
    place_order(other, world, (STORE_STOCK - 1, STORE_STOCK - 1))
    repository = pg_ledger.orders.repository
    monkeypatch.setattr(repository.watch, "look", lambda _decision: None)
    lost: list[str] = []
    monkeypatch.setattr(pg_ledger.orders, "on_lost_race", lost.append)

    order = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)

    assert lost == ["orders"]
    assert world.store_id not in {a.node_id for a in order.allocations}
    for sku_id in world.sku_ids[:2]:
        stock = pg_ledger.orders.load(Stock, Stock.create_id(world.store_id, sku_id))
        assert (stock.on_hand, stock.reserved) == (STORE_STOCK, STORE_STOCK)


def test_a_decision_does_not_wait_for_transactions_in_flight(
    pg_ledger: Ledger, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction holds the horizon back; the command's looks at the logs take what
    has settled and go on (a reader that must see every committed event waits)."""
    world = build_world(pg_ledger)
    place_order(pg_ledger, world, (1, 1))  # the routing view has started
    monkeypatch.setattr(TransactionOrderRecorder, "_pause", _refuse_to_wait)
    with psycopg.connect(postgres_url) as holding:
        holding.execute("SELECT pg_current_xact_id()")  # an open transaction with an id
        with psycopg.connect(postgres_url, autocommit=True) as later:
            later.execute("SELECT pg_current_xact_id()")  # a later one, ended
        order = pg_ledger.orders.get_order(place_order(pg_ledger, world, (1, 1)).id)
        assert order.allocations
        with pytest.raises(Waited):
            pg_ledger.orders.recorder.select_notifications(start=0, limit=10_000)


class Waited(Exception):
    """A read paused for the transactions in flight."""


def _refuse_to_wait(_recorder: TransactionOrderRecorder, _seconds: float) -> None:
    raise Waited
