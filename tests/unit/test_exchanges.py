"""Exchanges (换货) on the order aggregate: only delivered units still kept, only for another
SKU at the same price, and the replacement is a new line that is routed, shipped and
returned like any other, carrying what was paid for the units it replaced."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guideledger.fulfilment.domain.routing import LineDemand, NodeCandidate, route
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.values import GeoPoint
from guideledger.orders.domain.errors import (
    ExchangePriceDiffers,
    ExchangeRefused,
    ReturnRefused,
    RoutingRefused,
    ShipmentRefused,
)
from guideledger.orders.domain.lines import Discount, OrderLine, OrderStatus, ReplacementSku
from guideledger.orders.domain.order import MAX_EXCHANGES_PER_ORDER, Order
from guideledger.orders.domain.payments import ProviderPayment
from guideledger.organisation.domain.units import NodeKind
from tests.unit.test_orders import (
    BRANCH,
    DIRECT,
    LATER,
    NODE,
    OTHER_NODE,
    PLACED_AT,
    SKU_A,
    SKU_B,
    TIME_ZONE,
    WINDOW,
    allocate,
    delivered,
    paid,
    place,
    sealed,
)

SKU_C = uuid4()
SAME_PRICE = ReplacementSku(SKU_C, 1000)  # line 1 sells at 1,000 a unit
RECEIVING = uuid4()


def exchange(order: Order, exchange_id: str = "x1", line_no: int = 1, quantity: int = 1) -> None:
    order.exchange(exchange_id, line_no, quantity, SAME_PRICE, RECEIVING, LATER, "support")


def route_replacements(order: Order, node_id: UUID = OTHER_NODE, units: int = 99) -> None:
    """Routes what the order still needs to a node holding `units` of every SKU."""
    stock = {demand.sku_id: units for demand in order.demands}
    candidate = NodeCandidate(node_id, NodeKind.STORE, BRANCH, GeoPoint(31.2, 121.5), stock)
    decision = route(order.demands, order.delivery.location, [candidate])
    if decision.routable:
        order.allocate(decision, LATER, "router")
    else:
        order.wait_for_stock(decision, LATER, "router")


def test_an_exchange_adds_a_replacement_line_at_the_same_price_and_no_money_moves() -> None:
    order = delivered()
    exchange(order)
    replacement = order.line(3)
    assert replacement == OrderLine(3, SKU_C, 1, 1000)
    assert [line.line_no for line in order.lines] == [1, 2]  # what was sold stays
    assert (order.exchanged_quantity(1), order.kept_quantity(1)) == (1, 1)
    assert order.paid_for(3) == 1000
    assert (order.returned_fen, order.refundable_fen, order.paid_fen) == (0, 0, 2500)
    assert order.demands == [LineDemand(3, SKU_C, 1)]
    assert order.status is OrderStatus.PARTIALLY_SHIPPED  # the replacement is still to ship


def test_only_delivered_units_not_returned_or_exchanged_can_be_exchanged() -> None:
    unshipped = paid()
    with pytest.raises(ExchangeRefused):
        exchange(unshipped)
    in_transit = paid()
    in_transit.ship("s1", NODE, {1: 2}, LATER, "store")
    with pytest.raises(ExchangeRefused):
        exchange(in_transit)
    order = delivered()
    order.return_items("r1", 1, 1, sealed("size"), LATER, "support")
    with pytest.raises(ExchangeRefused):
        exchange(order, quantity=2)
    exchange(order, quantity=1)
    with pytest.raises(ExchangeRefused):
        exchange(order, "x2")
    with pytest.raises(ReturnRefused):
        order.return_items("r2", 1, 1, sealed("size"), LATER, "support")


def test_an_exchange_for_another_price_is_refused_and_records_nothing() -> None:
    order = delivered()
    version = order.version
    for price in (999, 1001):
        with pytest.raises(ExchangePriceDiffers) as refused:
            order.exchange("x1", 1, 1, ReplacementSku(SKU_C, price), RECEIVING, LATER, "s")
        assert refused.value.extensions["price_in_force_fen"] == price
    assert (order.version, order.exchanges) == (version, {})


@pytest.mark.parametrize(
    ("line_no", "quantity", "sku_id", "error"),
    [
        (1, 1, SKU_A, ExchangeRefused),
        (1, 0, SKU_C, InvalidValue),
        (9, 1, SKU_C, InvalidValue),
    ],
    ids=["the same SKU", "no units", "no such line"],
)
def test_an_exchange_needs_another_sku_units_and_a_line(
    line_no: int, quantity: int, sku_id: UUID, error: type[Exception]
) -> None:
    order = delivered()
    with pytest.raises(error):
        order.exchange("x1", line_no, quantity, ReplacementSku(sku_id, 1000), RECEIVING, LATER, "s")


def test_exchange_ids_are_unique() -> None:
    order = delivered()
    exchange(order)
    with pytest.raises(ExchangeRefused):
        exchange(order)


def test_the_replacement_is_allocated_shipped_and_delivered_like_any_line() -> None:
    order = delivered()
    delivered_at = order.delivered_at
    exchange(order)
    route_replacements(order)
    assert [a.node_id for a in order.replacement_allocations] == [OTHER_NODE]
    assert [a.node_id for a in order.allocations] == [NODE]  # the sale's routing stays
    assert order.demands == []
    with pytest.raises(RoutingRefused):
        route_replacements(order)
    with pytest.raises(ShipmentRefused):
        order.ship("s2", NODE, {3: 1}, LATER, "store")
    with pytest.raises(ShipmentRefused):
        order.ship("s2", OTHER_NODE, {1: 1}, LATER, "store")
    order.ship("s2", OTHER_NODE, {3: 1}, LATER, "store")
    assert order.status is OrderStatus.SHIPPED
    order.deliver("s2", LATER, "carrier")
    # Delivered again, and the return window still counts from the sale's delivery.
    assert (order.status, order.delivered_at) == (OrderStatus.DELIVERED, delivered_at)


def test_a_replacement_no_node_can_ship_waits_for_stock_until_routed() -> None:
    order = delivered()
    exchange(order)
    route_replacements(order, units=0)
    assert order.awaiting_stock
    assert order.replacement_wait is not None
    assert [a.node_id for a in order.allocations] == [NODE]  # the sale's routing stays
    exchange(order, "x2")  # a second replacement joins the first in the wait
    assert [demand.line_no for demand in order.demands] == [3, 4]
    route_replacements(order)
    assert not order.awaiting_stock
    assert {line.line_no for a in order.replacement_allocations for line in a.lines} == {3, 4}


def test_a_replacement_can_be_returned_or_exchanged_again_once_delivered() -> None:
    order = delivered()
    exchange(order)
    route_replacements(order)
    with pytest.raises(ReturnRefused):
        order.return_items("r1", 3, 1, sealed("size"), LATER, "support")
    order.ship("s2", OTHER_NODE, {3: 1}, LATER, "store")
    order.deliver("s2", LATER, "carrier")
    order.exchange("x2", 3, 1, ReplacementSku(SKU_A, 1000), RECEIVING, LATER, "support")
    assert order.line(4) == OrderLine(4, SKU_A, 1, 1000)
    assert order.paid_for(4) == 1000
    route_replacements(order)
    order.ship("s3", OTHER_NODE, {4: 1}, LATER, "store")
    order.deliver("s3", LATER, "carrier")
    order.return_items("r1", 4, 1, sealed("size"), LATER, "support")
    assert order.refundable_fen == 1000


def discounted_and_delivered(quantity: int, discount_fen: int) -> Order:
    """One line of `quantity` units at 1,000 and one of a unit at 500, less a discount."""
    order = Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=[OrderLine(1, SKU_A, quantity, 1000), OrderLine(2, SKU_B, 1, 500)],
        delivery=place().delivery,
        evidence=DIRECT,
        payment_window=WINDOW,
        occurred_at=PLACED_AT,
        actor="frontend",
        discounts=[Discount("coupon", discount_fen)],
    )
    allocate(order)
    order.pay(ProviderPayment("p", order.id, order.total_fen, LATER), TIME_ZONE, LATER, "p")
    order.ship("s1", NODE, {1: quantity, 2: 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    return order


@given(
    quantity=st.integers(min_value=2, max_value=7),
    discount_fen=st.integers(min_value=0, max_value=2000),
    exchanged=st.integers(min_value=1, max_value=6),
)
def test_what_comes_back_after_exchanges_adds_up_to_what_was_paid(
    quantity: int, discount_fen: int, exchanged: int
) -> None:
    """However a discounted line is split between exchanges and returns, everything
    returned in the end refunds exactly what the order was paid."""
    exchanged = min(exchanged, quantity - 1)
    order = discounted_and_delivered(quantity, max(discount_fen, 1))
    exchange(order, quantity=exchanged)
    assert order.paid_for(3) == order.paid_for(1, exchanged)
    route_replacements(order)
    order.ship("s2", OTHER_NODE, {3: exchanged}, LATER, "store")
    order.deliver("s2", LATER, "carrier")
    order.return_items("r1", 1, quantity - exchanged, sealed("size"), LATER, "support")
    order.return_items("r2", 2, 1, sealed("size"), LATER, "support")
    for unit in range(exchanged):
        order.return_items(f"r3-{unit}", 3, 1, sealed("size"), LATER, "support")
    assert order.returned_fen == order.refundable_fen == order.paid_fen


def test_an_exchange_keeps_the_discount_the_units_were_paid_with() -> None:
    order = discounted_and_delivered(3, 100)
    assert order.paid_for(1) == 2914  # 86 of the 100 off line 1's 3,000
    exchange(order)
    assert order.paid_for(3) == 971  # a third of 2,914, rounded half up
    order.return_items("r1", 1, 2, sealed("size"), LATER, "support")
    assert order.returned_fen == 2914 - 971  # the rest of the line, to the fen


def test_an_order_without_exchanges_has_no_replacements() -> None:
    order = place()
    assert (order.replacements, order.replacement_allocations, order.exchanges) == ((), (), {})
    assert order.every_line == order.lines


def test_an_order_takes_a_bounded_number_of_exchanges() -> None:
    order = Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=[OrderLine(1, SKU_A, MAX_EXCHANGES_PER_ORDER + 1, 1000)],
        delivery=place().delivery,
        evidence=DIRECT,
        payment_window=WINDOW,
        occurred_at=PLACED_AT,
        actor="frontend",
    )
    allocate(order)
    order.pay(ProviderPayment("p", order.id, order.total_fen, LATER), TIME_ZONE, LATER, "p")
    order.ship("s1", NODE, {1: MAX_EXCHANGES_PER_ORDER + 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    for n in range(MAX_EXCHANGES_PER_ORDER):
        exchange(order, f"x{n}")
    assert [line.line_no for line in order.replacements] == list(
        range(2, MAX_EXCHANGES_PER_ORDER + 2)
    )
    with pytest.raises(ExchangeRefused, match="at most"):
        exchange(order, "one more")
