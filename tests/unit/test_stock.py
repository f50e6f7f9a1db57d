from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.errors import InvalidValue
from domain.stock import InsufficientStock, Stock, StockError

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ORDER = uuid4()


def stocked(units: int = 5) -> Stock:
    stock = Stock.open(uuid4(), uuid4(), uuid4(), NOW, "wms")
    stock.receive(units, "ASN-1", NOW, "wms")
    return stock


def test_reserving_holds_units_until_released() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 3, NOW, "router")
    assert (stock.on_hand, stock.reserved, stock.available) == (5, 3, 2)
    stock.release(ORDER, 1, NOW, "router")
    assert stock.available == 5


def test_never_reserves_more_than_available() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 4, NOW, "router")
    with pytest.raises(InsufficientStock):
        stock.reserve(uuid4(), 1, 2, NOW, "router")


def test_reserve_and_release_are_idempotent_per_order_line() -> None:
    stock = stocked(5)
    stock.collect_events()
    stock.reserve(ORDER, 1, 2, NOW, "router")
    stock.reserve(ORDER, 1, 2, NOW, "router")
    assert stock.reserved == 2
    stock.release(ORDER, 1, NOW, "router")
    stock.release(ORDER, 1, NOW, "router")
    assert [type(e).__name__ for e in stock.collect_events()] == ["Reserved", "Released"]
    stock.reserve(ORDER, 2, 1, NOW, "router")
    with pytest.raises(StockError):
        stock.reserve(ORDER, 2, 3, NOW, "router")


def test_shipping_commits_reserved_units_off_the_shelf() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 3, NOW, "router")
    stock.commit(ORDER, 1, 2, NOW, "store")
    assert (stock.on_hand, stock.reserved) == (3, 1)
    with pytest.raises(StockError):
        stock.commit(ORDER, 1, 2, NOW, "store")


def test_adjustments_never_go_below_what_is_reserved() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 3, NOW, "router")
    with pytest.raises(StockError):
        stock.adjust(-3, "count", NOW, "store")
    stock.adjust(-2, "damaged", NOW, "store")
    assert stock.available == 0
    with pytest.raises(InvalidValue):
        stock.adjust(0, "nothing", NOW, "store")


def test_restocks_only_what_the_line_shipped_from_here() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 2, NOW, "router")
    stock.commit(ORDER, 1, 2, NOW, "store")
    with pytest.raises(StockError):
        stock.restock(ORDER, 1, 3, NOW, "support")
    stock.restock(ORDER, 1, 2, NOW, "support")
    assert stock.on_hand == 5
    with pytest.raises(StockError):
        stock.restock(ORDER, 1, 1, NOW, "support")
