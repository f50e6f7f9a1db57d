"""Races on real PostgreSQL: exactly one winner where there can be only one, no lost work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from eventsourcing.utils import get_topic

from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, CommandResult, IdempotencyKey, VersionConflict
from guideledger.kernel.errors import DomainError
from guideledger.orders.domain.errors import OrderAlreadyPaid
from guideledger.orders.domain.lines import OrderStatus
from guideledger.orders.domain.order import Order
from tests.world import build_world, pay, place_order

THREADS = 8
T = TypeVar("T")


def race(threads: int, attempt: Callable[[int], T]) -> list[T | DomainError]:
    """Starts `threads` attempts at the same instant; returns outcomes or refusals."""
    barrier = threading.Barrier(threads)

    def run(n: int) -> T | DomainError:
        barrier.wait()
        try:
            return attempt(n)
        except DomainError as refusal:
            return refusal

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


def placed_events(ledger: Ledger) -> int:
    topic = get_topic(Order.Placed)
    return len(ledger.orders.recorder.select_notifications(start=1, limit=1000, topics=[topic]))


def test_same_idempotency_key_from_many_threads_places_one_order(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger)
    command = Command("frontend", IdempotencyKey("double-click", "same-body"))
    outcomes = race(THREADS, lambda _n: place_order(pg_ledger, world, command=command))
    assert len(set(outcomes)) == 1
    assert placed_events(pg_ledger) == 1


def test_many_payments_for_one_order_have_exactly_one_winner(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger)
    order_id = place_order(pg_ledger, world).id
    outcomes = race(THREADS, lambda n: pay(pg_ledger, order_id, transaction_id=f"wx-{n}"))
    winners = [o for o in outcomes if not isinstance(o, DomainError)]
    assert len(winners) == 1
    assert all(isinstance(o, OrderAlreadyPaid) for o in outcomes if o not in winners)
    order = pg_ledger.orders.get_order(order_id)
    assert order.version == 4
    assert order.status is OrderStatus.PAID


def test_one_notification_delivered_by_many_threads_pays_once_and_answers_all_alike(
    pg_ledger: Ledger,
) -> None:
    world = build_world(pg_ledger)
    order_id = place_order(pg_ledger, world).id
    outcomes = race(THREADS, lambda _n: pay(pg_ledger, order_id, transaction_id="wx-once"))
    assert set(outcomes) == {CommandResult(order_id, 4)}
    assert pg_ledger.orders.get_order(order_id).version == 4


def test_writers_holding_the_same_version_have_one_winner(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger)
    order_id = place_order(pg_ledger, world).id
    outcomes = race(
        THREADS,
        lambda n: pg_ledger.orders.cancel(Command(f"t{n}"), order_id, f"r{n}", expected_version=3),
    )
    winners = [o for o in outcomes if not isinstance(o, DomainError)]
    assert len(winners) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if o not in winners)


def test_compatible_concurrent_changes_are_retried_not_lost(pg_ledger: Ledger) -> None:
    world = build_world(pg_ledger)
    order_id = place_order(pg_ledger, world, quantities=(4, 1)).id
    pay(pg_ledger, order_id)
    outcomes = race(
        4,
        lambda n: pg_ledger.orders.ship(
            Command(f"t{n}"), order_id, f"parcel-{n}", world.store_id, {1: 1}
        ),
    )
    assert not [o for o in outcomes if isinstance(o, DomainError)]
    order = pg_ledger.orders.get_order(order_id)
    assert order.shipped_quantity(1) == 4
    assert order.version == 8
