from datetime import UTC, datetime, timedelta
from fractions import Fraction
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guideledger.attribution.domain.rules import (
    Attribution,
    AttributionChannel,
    AttributionEvidence,
    Channel,
)
from guideledger.fulfilment.domain.routing import NodeCandidate, route
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import GeoPoint
from guideledger.orders.domain.errors import (
    CannotCancel,
    DeliveryRefused,
    OrderNotPayable,
    RefundRefused,
    ReturnRefused,
    RoutingRefused,
    ShipmentRefused,
    WrongPaymentAmount,
)
from guideledger.orders.domain.lines import (
    MAX_DISCOUNTS_PER_ORDER,
    MAX_QUANTITY_PER_LINE,
    DeliveryAddress,
    Discount,
    OrderLine,
    OrderStatus,
    discounted,
)
from guideledger.orders.domain.order import PAYMENT_WINDOW_EXPIRED, Order
from guideledger.orders.domain.payments import ProviderPayment
from guideledger.organisation.domain.units import NodeKind

PLACED_AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
LATER = PLACED_AT + timedelta(minutes=5)
WINDOW = timedelta(minutes=30)
TIME_ZONE = "Asia/Shanghai"
SKU_A, SKU_B = uuid4(), uuid4()
DIRECT = AttributionEvidence(Channel.DIRECT)
NODE, OTHER_NODE, BRANCH = uuid4(), uuid4(), uuid4()


def sealed(text: str) -> Sealed:
    """Personal text as the order records it (these tests never open it)."""
    return Sealed(uuid4(), text)


def allocate(order: Order, node_id: UUID = NODE) -> Order:
    """Allocates the whole order to one node that holds plenty of everything."""
    stock = {line.sku_id: 99 for line in order.lines}
    candidate = NodeCandidate(node_id, NodeKind.STORE, BRANCH, GeoPoint(31.2, 121.5), stock)
    order.allocate(route(order.demands, order.delivery.location, [candidate]), PLACED_AT, "r")
    return order


def place(lines: list[OrderLine] | None = None, evidence: AttributionEvidence = DIRECT) -> Order:
    return Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=lines or [OrderLine(1, SKU_A, 2, 1000), OrderLine(2, SKU_B, 1, 500)],
        delivery=DeliveryAddress(sealed("somewhere"), GeoPoint(31.2, 121.5), sealed("31.2,121.5")),
        evidence=evidence,
        payment_window=WINDOW,
        occurred_at=PLACED_AT,
        actor="frontend",
    )


def paid() -> Order:
    order = allocate(place())
    order.pay(ProviderPayment("pay-1", order.id, 2500, LATER), TIME_ZONE, LATER, "frontend")
    return order


def delivered() -> Order:
    order = paid()
    order.ship("s1", NODE, {1: 2, 2: 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    return order


# --- placing ---------------------------------------------------------------------


def test_placed_order_awaits_payment_with_total_and_due_time() -> None:
    order = place()
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.total_fen == 2500
    assert order.payment_due_at == PLACED_AT + WINDOW


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [OrderLine(2, SKU_A, 1, 100)],
        [OrderLine(1, SKU_A, 1, 100), OrderLine(2, SKU_A, 1, 100)],
    ],
    ids=["no lines", "numbering gap", "same SKU twice"],
)
def test_refuses_malformed_lines(lines: list[OrderLine]) -> None:
    with pytest.raises(InvalidValue):
        Order.place(
            order_id=uuid4(),
            brand_id=uuid4(),
            member_id=uuid4(),
            lines=lines,
            delivery=DeliveryAddress(sealed("x"), GeoPoint(0, 0), sealed("0,0")),
            evidence=DIRECT,
            payment_window=WINDOW,
            occurred_at=PLACED_AT,
            actor="a",
        )


@pytest.mark.parametrize(
    ("delivery", "evidence"),
    [
        (DeliveryAddress(sealed("x"), GeoPoint(31.2304, 121.4737)), DIRECT),
        (DeliveryAddress(sealed("x"), GeoPoint(31.2304, 121.4737), sealed("x")), DIRECT),
        (
            DeliveryAddress(sealed("x"), GeoPoint(31.23, 121.47), sealed("x")),
            AttributionEvidence(Channel.STORE_ACCOUNT, store_id=uuid4(), guide_note="Wang Fang"),
        ),
    ],
    ids=["point in the clear", "exact point beside the sealed one", "note in the clear"],
)
def test_an_order_records_its_members_data_only_sealed(
    delivery: DeliveryAddress, evidence: AttributionEvidence
) -> None:
    with pytest.raises(InvalidValue, match="sealed"):
        Order.place(
            order_id=uuid4(),
            brand_id=uuid4(),
            member_id=uuid4(),
            lines=[OrderLine(1, SKU_A, 1, 100)],
            delivery=delivery,
            evidence=evidence,
            payment_window=WINDOW,
            occurred_at=PLACED_AT,
            actor="a",
        )


@pytest.mark.parametrize(
    ("quantity", "price"), [(0, 100), (-1, 100), (MAX_QUANTITY_PER_LINE + 1, 100), (1, -1)]
)
def test_refuses_impossible_quantities_and_prices(quantity: int, price: int) -> None:
    with pytest.raises(InvalidValue):
        OrderLine(1, SKU_A, quantity, price)


def test_guide_channels_must_name_the_guide() -> None:
    with pytest.raises(InvalidValue):
        AttributionEvidence(Channel.GUIDE_QR)
    with pytest.raises(InvalidValue):
        AttributionEvidence(Channel.STORE_ACCOUNT)


def test_evidence_is_carried_as_given() -> None:
    guide: UUID = uuid4()
    evidence = AttributionEvidence(Channel.LIVE_STREAM_FORWARD, guide_id=guide, share_code="LS1")
    assert place(evidence=evidence).evidence == evidence


# --- paying ----------------------------------------------------------------------------


def test_payment_must_equal_the_total() -> None:
    order = place()
    with pytest.raises(WrongPaymentAmount):
        order.pay(ProviderPayment("p", order.id, 2499, LATER), TIME_ZONE, LATER, "f")
    order.pay(ProviderPayment("p", order.id, 2500, LATER), TIME_ZONE, LATER, "f")
    assert order.status is OrderStatus.PAID


def test_cannot_pay_twice_or_after_cancel_or_after_the_window() -> None:
    order = paid()
    with pytest.raises(OrderNotPayable):
        order.pay(ProviderPayment("again", order.id, 2500, LATER), TIME_ZONE, LATER, "f")
    cancelled = place()
    cancelled.cancel(sealed("changed mind"), LATER, "f")
    with pytest.raises(OrderNotPayable):
        cancelled.pay(ProviderPayment("p", cancelled.id, 2500, LATER), TIME_ZONE, LATER, "f")
    late = place()
    with pytest.raises(OrderNotPayable):
        late.pay(
            ProviderPayment("p", late.id, 2500, PLACED_AT + WINDOW + timedelta(seconds=1)),
            TIME_ZONE,
            PLACED_AT + WINDOW + timedelta(seconds=1),
            "f",
        )


# --- cancelling and expiry -----------------------------------------------------------------


def test_cancels_before_shipping_only() -> None:
    order = paid()
    order.ship("s1", NODE, {1: 1}, LATER, "store")
    with pytest.raises(CannotCancel):
        order.cancel(sealed("too late"), LATER, "f")


def test_cannot_cancel_twice() -> None:
    order = place()
    order.cancel(sealed("x"), LATER, "f")
    with pytest.raises(CannotCancel):
        order.cancel(sealed("y"), LATER, "f")


def test_unpaid_order_expires_only_after_its_window() -> None:
    order = place()
    with pytest.raises(CannotCancel):
        order.expire_payment_window(PLACED_AT + WINDOW - timedelta(seconds=1), "system")
    order.expire_payment_window(PLACED_AT + WINDOW, "system")
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason == PAYMENT_WINDOW_EXPIRED


def test_paid_order_never_expires() -> None:
    with pytest.raises(CannotCancel):
        paid().expire_payment_window(PLACED_AT + timedelta(days=1), "system")


# --- shipping and delivery ---------------------------------------------------------------------


def test_unpaid_order_cannot_ship() -> None:
    with pytest.raises(ShipmentRefused):
        allocate(place()).ship("s1", NODE, {1: 1}, LATER, "store")


def test_ships_only_from_the_allocated_node() -> None:
    order = paid()
    with pytest.raises(ShipmentRefused):
        order.ship("s1", OTHER_NODE, {1: 1}, LATER, "store")


def test_unallocated_order_cannot_ship() -> None:
    order = place()
    order.pay(ProviderPayment("p", order.id, 2500, LATER), TIME_ZONE, LATER, "f")
    with pytest.raises(ShipmentRefused):
        order.ship("s1", NODE, {1: 1}, LATER, "store")


def test_allocation_must_cover_every_line_exactly() -> None:
    order = place()
    candidate = NodeCandidate(NODE, NodeKind.STORE, BRANCH, GeoPoint(31, 121), {SKU_A: 9, SKU_B: 9})
    other = Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=[OrderLine(1, SKU_A, 1, 1000)],
        delivery=order.delivery,
        evidence=DIRECT,
        payment_window=WINDOW,
        occurred_at=PLACED_AT,
        actor="f",
    )
    wrong = route(other.demands, order.delivery.location, [candidate])
    with pytest.raises(InvalidValue):
        order.allocate(wrong, LATER, "router")


def test_an_order_no_node_can_ship_waits_for_stock_once() -> None:
    order = place()
    empty = NodeCandidate(NODE, NodeKind.STORE, BRANCH, GeoPoint(31, 121), {})
    decision = route(order.demands, order.delivery.location, [empty])
    order.wait_for_stock(decision, LATER, "router")
    assert order.awaiting_stock
    with pytest.raises(RoutingRefused):
        order.wait_for_stock(decision, LATER, "router")
    allocate(order)
    assert not order.awaiting_stock
    with pytest.raises(RoutingRefused):
        allocate(order)


def test_cross_branch_when_the_shipping_node_belongs_to_another_branch() -> None:
    order = place()
    stock = {SKU_A: 9, SKU_B: 9}
    candidate = NodeCandidate(NODE, NodeKind.WAREHOUSE, BRANCH, GeoPoint(31, 121), stock)
    sold_by_another_branch = Attribution(
        AttributionChannel.STORE_ONLY,
        "store",
        0,
        order.brand_id,
        AttributionEvidence(Channel.DIRECT),
        store_id=uuid4(),
        branch_id=uuid4(),
    )
    order.attribute(sold_by_another_branch, LATER, "frontend")
    order.allocate(route(order.demands, order.delivery.location, [candidate]), LATER, "r")
    assert order.is_cross_branch(order.allocations[0])


def test_ships_in_parts_up_to_the_ordered_quantity() -> None:
    order = paid()
    order.ship("s1", NODE, {1: 1}, LATER, "store")
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    with pytest.raises(ShipmentRefused):
        order.ship("s2", NODE, {1: 2}, LATER, "store")
    order.ship("s2", NODE, {1: 1, 2: 1}, LATER, "warehouse")
    assert order.status is OrderStatus.SHIPPED


def test_shipment_ids_are_unique_and_lines_must_exist() -> None:
    order = paid()
    order.ship("s1", NODE, {1: 1}, LATER, "store")
    with pytest.raises(ShipmentRefused):
        order.ship("s1", NODE, {2: 1}, LATER, "store")
    with pytest.raises(InvalidValue):
        order.ship("s2", NODE, {3: 1}, LATER, "store")


def test_delivered_when_every_shipment_arrived() -> None:
    order = paid()
    order.ship("s1", NODE, {1: 2}, LATER, "store")
    order.ship("s2", NODE, {2: 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    assert order.status is OrderStatus.SHIPPED
    order.deliver("s2", LATER, "carrier")
    assert order.status is OrderStatus.DELIVERED


def test_delivery_needs_a_known_undelivered_shipment() -> None:
    order = delivered()
    with pytest.raises(DeliveryRefused):
        order.deliver("s1", LATER, "carrier")
    with pytest.raises(DeliveryRefused):
        order.deliver("nope", LATER, "carrier")


# --- returns and refunds ------------------------------------------------------------------------


def test_returns_only_what_was_delivered() -> None:
    order = paid()
    order.ship("s1", NODE, {1: 2}, LATER, "store")
    with pytest.raises(ReturnRefused):
        order.return_items("r1", 1, 1, sealed("too small"), LATER, "support")
    order.deliver("s1", LATER, "carrier")
    order.return_items("r1", 1, 1, sealed("too small"), LATER, "support")
    with pytest.raises(ReturnRefused):
        order.return_items("r2", 1, 2, sealed("both"), LATER, "support")
    assert order.returned_quantity(1) == 1


def delivered_from_two_nodes() -> Order:
    """Line 1 (two units) shipped one unit from each node, NODE first; line 2 from NODE."""
    order = place()
    near = NodeCandidate(NODE, NodeKind.STORE, BRANCH, GeoPoint(31.2, 121.5), {SKU_A: 1, SKU_B: 1})
    far = NodeCandidate(OTHER_NODE, NodeKind.STORE, BRANCH, GeoPoint(31.3, 121.5), {SKU_A: 1})
    order.allocate(route(order.demands, order.delivery.location, [near, far]), LATER, "r")
    order.pay(ProviderPayment("pay-1", order.id, 2500, LATER), TIME_ZONE, LATER, "frontend")
    order.ship("s1", NODE, {1: 1, 2: 1}, LATER, "store")
    order.ship("s2", OTHER_NODE, {1: 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    order.deliver("s2", LATER, "carrier")
    return order


def test_returned_units_go_back_to_the_nodes_that_shipped_them_latest_first() -> None:
    order = delivered_from_two_nodes()

    order.return_items("r1", 1, 1, sealed("too small"), LATER, "support")
    order.return_items("r2", 1, 1, sealed("too small"), LATER, "support")
    order.return_items("r3", 2, 1, sealed("not needed"), LATER, "support")

    assert order.restock_of("r1") == ((OTHER_NODE, 1),)
    assert order.restock_of("r2") == ((NODE, 1),)  # the other node took back all it shipped
    assert order.restock_of("r3") == ((NODE, 1),)


def test_a_return_spanning_nodes_goes_back_to_each_in_part() -> None:
    order = delivered_from_two_nodes()

    order.return_items("r1", 1, 2, sealed("wrong colour"), LATER, "support")

    assert order.restock_of("r1") == ((OTHER_NODE, 1), (NODE, 1))


def test_return_ids_are_unique() -> None:
    order = delivered()
    order.return_items("r1", 1, 1, sealed("size"), LATER, "support")
    with pytest.raises(ReturnRefused):
        order.return_items("r1", 1, 1, sealed("size"), LATER, "support")


def test_refunds_at_most_the_value_returned() -> None:
    order = delivered()
    with pytest.raises(RefundRefused):
        order.refund("f1", 1, LATER, "finance")
    order.return_items("r1", 1, 1, sealed("size"), LATER, "support")
    assert order.refundable_fen == 1000
    with pytest.raises(RefundRefused):
        order.refund("f1", 1001, LATER, "finance")
    order.refund("f1", 600, LATER, "finance")
    order.refund("f2", 400, LATER, "finance")
    assert order.refundable_fen == 0
    with pytest.raises(RefundRefused):
        order.refund("f2", 1, LATER, "finance")


def test_cancelled_paid_order_refunds_the_whole_payment() -> None:
    order = paid()
    order.cancel(sealed("out of stock"), LATER, "support")
    assert order.refundable_fen == 2500
    order.refund("f1", 2500, LATER, "finance")
    assert order.refunded_fen == 2500


# --- discounts ----------------------------------------------------------------------------


def place_with(discounts: list[Discount]) -> Order:
    return Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=[OrderLine(1, SKU_A, 2, 1000), OrderLine(2, SKU_B, 1, 500)],
        delivery=DeliveryAddress(sealed("somewhere"), GeoPoint(31.2, 121.5), sealed("31.2,121.5")),
        evidence=DIRECT,
        payment_window=WINDOW,
        occurred_at=PLACED_AT,
        actor="frontend",
        discounts=discounts,
    )


def test_a_discount_is_a_named_amount_off_the_whole_order() -> None:
    order = allocate(place_with([Discount("coupon", 200), Discount("voucher", 100)]))
    assert (order.lines_fen, order.discount_fen, order.total_fen) == (2500, 300, 2200)
    assert [line.unit_price_fen for line in order.lines] == [1000, 500]
    assert (order.paid_for(1), order.paid_for(2)) == (1760, 440)  # 240 and 60 off
    with pytest.raises(WrongPaymentAmount):
        order.pay(ProviderPayment("p", order.id, 2500, LATER), TIME_ZONE, LATER, "provider")
    order.pay(ProviderPayment("p", order.id, 2200, LATER), TIME_ZONE, LATER, "provider")
    assert order.paid_fen == 2200


def test_a_returned_unit_is_refunded_what_was_paid_for_it() -> None:
    order = allocate(place_with([Discount("coupon", 300)]))
    order.pay(ProviderPayment("p", order.id, 2200, LATER), TIME_ZONE, LATER, "provider")
    order.ship("s1", NODE, {1: 2, 2: 1}, LATER, "store")
    order.deliver("s1", LATER, "carrier")
    order.return_items("r1", 1, 1, sealed("size"), LATER, "support")
    assert order.refundable_fen == 880  # half of line 1's 1,760
    with pytest.raises(RefundRefused):
        order.refund("f1", 1000, LATER, "finance")
    order.return_items("r2", 1, 1, sealed("size"), LATER, "support")
    order.return_items("r3", 2, 1, sealed("size"), LATER, "support")
    assert order.refundable_fen == 2200  # everything back: all that was paid


@pytest.mark.parametrize(
    "discounts",
    [
        [Discount("coupon", 2501)],
        [Discount("coupon", 2000), Discount("voucher", 501)],
        [Discount("coupon", 100), Discount("coupon", 100)],
        [Discount(f"d{n}", 1) for n in range(MAX_DISCOUNTS_PER_ORDER + 1)],
    ],
    ids=["over the total", "together over the total", "a name twice", "too many"],
)
def test_discounts_are_refused_beyond_the_lines_total_named_twice_or_too_many(
    discounts: list[Discount],
) -> None:
    with pytest.raises(InvalidValue):
        place_with(discounts)


def test_a_discount_needs_a_name_and_a_positive_amount() -> None:
    with pytest.raises(InvalidValue):
        Discount(" ", 100)
    with pytest.raises(InvalidValue):
        Discount("coupon", 0)
    assert place_with([Discount("everything", 2500)]).total_fen == 0


@given(
    amounts=st.lists(st.integers(0, 10**9), min_size=1, max_size=12),
    share=st.fractions(0, 1),
)
def test_discounted_amounts_add_up_to_the_total_less_the_discount_exactly(
    amounts: list[int], share: Fraction
) -> None:
    discount = int(sum(amounts) * share)
    parts = discounted(amounts, discount)
    assert sum(parts) == sum(amounts) - discount
    assert all(0 <= part <= amount for part, amount in zip(parts, amounts, strict=True))
    if sum(amounts):  # each within a fen of its exact share
        exact = [Fraction(a * (sum(amounts) - discount), sum(amounts)) for a in amounts]
        assert all(abs(part - e) < 1 for part, e in zip(parts, exact, strict=True))


def test_every_event_carries_when_and_who() -> None:
    order = delivered()
    for domain_event in order.collect_events():
        assert domain_event.occurred_at.tzinfo is not None  # type: ignore[attr-defined]
        assert domain_event.actor  # type: ignore[attr-defined]


# --- the brand-local day ------------------------------------------------------------------


def test_a_sale_its_refund_and_its_correction_count_on_the_local_day_it_was_paid() -> None:
    placed_at = datetime(2026, 11, 1, 15, 50, tzinfo=UTC)  # 23:50 in Shanghai
    order = Order.place(
        order_id=uuid4(),
        brand_id=uuid4(),
        member_id=uuid4(),
        lines=[OrderLine(1, SKU_A, 1, 1000)],
        delivery=DeliveryAddress(sealed("x"), GeoPoint(31.2, 121.5), sealed("31.2,121.5")),
        evidence=DIRECT,
        payment_window=WINDOW,
        occurred_at=placed_at,
        actor="frontend",
    )
    order.attribute(store_sale(order.brand_id, uuid4()), placed_at, "frontend")
    paid_at = placed_at + timedelta(minutes=15)  # 00:05 the next day in Shanghai
    order.pay(ProviderPayment("pay-1", order.id, 1000, paid_at), TIME_ZONE, paid_at, "frontend")
    order.cancel(sealed("changed mind"), placed_at + timedelta(days=2), "support")
    order.refund("f1", 1000, placed_at + timedelta(days=2), "finance")
    order.correct_attribution(
        store_sale(order.brand_id, uuid4()), "wrong store", placed_at + timedelta(days=3), "s"
    )

    events = order.collect_events()
    days = [
        e.sales_day
        for e in events
        if isinstance(e, Order.Paid | Order.Refunded | Order.AttributionCorrected)
    ]
    assert days == ["2026-11-02"] * 3


def test_a_sale_counts_on_the_day_in_its_brands_time_zone() -> None:
    order = place()
    order.attribute(store_sale(order.brand_id, uuid4()), LATER, "frontend")
    order.pay(
        ProviderPayment("pay-1", order.id, 2500, LATER), "America/Los_Angeles", LATER, "frontend"
    )  # 10:05 in Shanghai
    [paid] = [e for e in order.collect_events() if isinstance(e, Order.Paid)]
    assert paid.sales_day == "2026-10-31"  # 19:05 the evening before in Los Angeles


def test_a_correction_before_payment_counts_on_no_day() -> None:
    order = place()
    order.attribute(store_sale(order.brand_id, uuid4()), LATER, "frontend")
    order.correct_attribution(store_sale(order.brand_id, uuid4()), "wrong store", LATER, "s")
    [correction] = [e for e in order.collect_events() if isinstance(e, Order.AttributionCorrected)]
    assert correction.sales_day is None


def store_sale(brand_id: UUID, store_id: UUID) -> Attribution:
    evidence = AttributionEvidence(Channel.DIRECT, store_id=store_id)
    return Attribution(
        AttributionChannel.STORE_ONLY, "store", 0, brand_id, evidence, store_id=store_id
    )
