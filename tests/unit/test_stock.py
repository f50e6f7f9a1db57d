import copy
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from guideledger.fulfilment.domain.stock import InsufficientStock, Stock, StockError
from guideledger.kernel.errors import InvalidValue

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


def test_restocking_puts_returned_units_back_on_the_shelf() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 2, NOW, "router")
    stock.commit(ORDER, 1, 2, NOW, "store")
    stock.restock(ORDER, 1, 2, NOW, "support")
    assert (stock.on_hand, stock.available) == (5, 5)
    with pytest.raises(InvalidValue):
        stock.restock(ORDER, 1, 0, NOW, "support")


def test_a_stock_keeps_nothing_of_the_lines_it_shipped() -> None:
    """Every reservation reads the stock: its state must not grow with its history."""
    stock = stocked(100)
    for _ in range(100):
        order_id = uuid4()
        stock.reserve(order_id, 1, 1, NOW, "router")
        stock.commit(order_id, 1, 1, NOW, "store")
    collections = {
        name
        for name, value in vars(stock).items()
        if isinstance(value, dict | list | set) and name != "_pending_events"
    }
    assert collections == {"reservations"}
    assert stock.reservations == {}


def test_a_copy_of_a_stock_changes_apart_from_it() -> None:
    stock = stocked(5)
    stock.reserve(ORDER, 1, 2, NOW, "router")
    stock.collect_events()
    copied = copy.deepcopy(stock)
    copied.reserve(uuid4(), 1, 3, NOW, "router")
    assert (stock.available, copied.available) == (3, 0)
    assert (len(stock.collect_events()), len(copied.collect_events())) == (0, 1)
    assert copied.id == stock.id
    assert copied.version == stock.version + 1
