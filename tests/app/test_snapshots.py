"""Snapshots: a stock, whose history grows with every order, is read from its latest
snapshot; a read of any other kind never asks the snapshot store, on every backend."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.composition import Ledger
from guideledger.fulfilment.domain.stock import Stock
from tests.world import build_world, receive


def snapshot_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids the order application's repository asks its snapshot store for, from now on."""
    store = ledger.orders.repository.snapshot_store
    assert store is not None, "stocks take snapshots"
    asked: list[UUID] = []
    library_get = store.get

    def get(originator_id: UUID, **options: Any) -> Any:
        asked.append(originator_id)
        return library_get(originator_id, **options)

    monkeypatch.setattr(store, "get", get)
    return asked


def test_a_stock_is_snapshotted_every_hundred_events_and_read_from_the_latest(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ledger)
    node_id, sku_id = world.store_id, world.sku_ids[0]
    stock_id = Stock.create_id(node_id, sku_id)
    while (live := ledger.orders.load(Stock, stock_id)).version < 150:
        receive(ledger, node_id, sku_id, 1)
    assert ledger.orders.snapshots is not None
    assert [s.originator_version for s in ledger.orders.snapshots.get(stock_id)] == [100]

    asked = snapshot_reads(ledger, monkeypatch)
    cache = ledger.orders.repository.cache
    assert cache is not None
    cache.get(stock_id, evict=True)  # as after a restart
    again = ledger.orders.load(Stock, stock_id)

    assert asked == [stock_id]
    assert vars(again) == vars(live)
    receive(ledger, node_id, sku_id, 1)  # and the stock goes on from there
    assert ledger.orders.load(Stock, stock_id).on_hand == live.on_hand + 1


def test_reads_of_other_kinds_never_ask_for_a_snapshot(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ledger)
    asked = snapshot_reads(ledger, monkeypatch)

    assert ledger.orders.find(MemberBinding, uuid4()) is None
    assert not ledger.orders.exists(MemberBinding, uuid4())
    assert ledger.orders.find(Stock, Stock.create_id(world.store_id, uuid4())) is None

    assert len(asked) == 1  # the stock's, not the binding's
