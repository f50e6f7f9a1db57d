"""A projection's table folded in memory holds what the stored read model holds, whether
the stored one was behind or ahead of this process's look at the log when it started."""

from __future__ import annotations

from guideledger.composition import Ledger
from guideledger.fulfilment.application.projections import STOCK_AVAILABILITY, StockAvailability
from guideledger.readmodels.folded import FoldedTable
from tests.world import build_world, place_order, receive


def folded_stock(ledger: Ledger) -> FoldedTable:
    return FoldedTable(
        StockAvailability(), STOCK_AVAILABILITY, ledger.orders, ledger.projections, "sku_id"
    )


def stored_rows(ledger: Ledger) -> list[dict[str, object]]:
    ledger.projections.process_all()
    return ledger.projections.select(STOCK_AVAILABILITY, {})


def rows(table: FoldedTable, sku_ids: list[object]) -> list[dict[str, object]]:
    found = table.current(sku_ids)
    return sorted(found, key=lambda row: str(row["stock_id"]))


def test_a_table_started_behind_the_log_and_one_started_ahead_of_the_watch_agree(
    ledger: Ledger,
) -> None:
    world = build_world(ledger)
    behind = folded_stock(ledger)  # the stored read model has caught up nothing yet
    assert ledger.projections.store.position(StockAvailability.name) == 0
    place_order(ledger, world)
    sku_ids: list[object] = list(world.sku_ids)
    rows(behind, sku_ids)  # starts now: from position 0, catching up itself
    place_order(ledger, world)
    expected = sorted(stored_rows(ledger), key=lambda row: str(row["stock_id"]))
    ahead = folded_stock(ledger)  # starts where the stored read model is: past the watch
    rows(ahead, sku_ids)
    receive(ledger, world.warehouse_id, world.sku_ids[0], 3)
    place_order(ledger, world, (1, 1))

    after = sorted(stored_rows(ledger), key=lambda row: str(row["stock_id"]))
    assert after != expected
    assert rows(behind, sku_ids) == after
    assert rows(ahead, sku_ids) == after
