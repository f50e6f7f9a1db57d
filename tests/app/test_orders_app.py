"""The order application on every backend."""

from datetime import timedelta
from uuid import uuid4

import pytest

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import (
    Command,
    CommandResult,
    IdempotencyKey,
    IdempotencyKeyReused,
    UnknownReference,
    VersionConflict,
)
from guideledger.kernel.errors import NotFound, RuleViolated
from guideledger.orders.application.app import (
    PAYMENT_PROVIDER_ACTOR,
    DeliveryRequest,
    LineRequest,
)
from guideledger.orders.domain.errors import (
    OrderAlreadyPaid,
    OrderNotPayable,
    TransactionReused,
    WrongPaymentAmount,
)
from guideledger.orders.domain.lines import OrderStatus
from guideledger.orders.domain.order import PAYMENT_WINDOW_EXPIRED
from guideledger.orders.domain.payments import ProviderPayment
from guideledger.platform.clock import ManualClock
from tests.world import (
    FRONTEND,
    PRICES,
    SHANGHAI,
    World,
    build_world,
    event_count,
    order_total,
    pay,
    receive,
)
from tests.world import place_order as place


@pytest.fixture
def world(ledger: Ledger) -> World:
    return build_world(ledger)


def place_with(ledger: Ledger, world: World, **overrides: object) -> None:
    fields: dict[str, object] = {
        "brand_id": world.brand_id,
        "member_id": world.member_id,
        "lines": [LineRequest(world.sku_ids[0], 1, PRICES[0])],
        "delivery": DeliveryRequest("x", SHANGHAI),
        "evidence": AttributionEvidence(Channel.DIRECT),
    }
    fields.update(overrides)
    ledger.orders.place_order(FRONTEND, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"brand_id": uuid4()},
        {"member_id": uuid4()},
        {"lines": [LineRequest(uuid4(), 1, 100)]},
        {"evidence": AttributionEvidence(Channel.GUIDE_QR, guide_id=uuid4())},
        {"evidence": AttributionEvidence(Channel.STORE_ACCOUNT, store_id=uuid4())},
    ],
    ids=["unknown brand", "unknown member", "unknown SKU", "unknown guide", "unknown store"],
)
def test_placing_refuses_unknown_references_and_writes_nothing(
    ledger: Ledger, world: World, overrides: dict[str, object]
) -> None:
    before = event_count(ledger)
    with pytest.raises(UnknownReference):
        place_with(ledger, world, **overrides)
    assert event_count(ledger) == before


def test_store_account_evidence_must_name_a_store_not_a_warehouse(
    ledger: Ledger, world: World
) -> None:
    with pytest.raises(RuleViolated):
        place_with(
            ledger,
            world,
            evidence=AttributionEvidence(Channel.STORE_ACCOUNT, store_id=world.warehouse_id),
        )


def test_whole_lifecycle_reads_back_from_the_store(ledger: Ledger, clock: ManualClock) -> None:
    world = build_world(ledger, stocked=False)
    receive(ledger, world.store_id, world.sku_ids[0], 5)
    receive(ledger, world.warehouse_id, world.sku_ids[1], 5)
    orders = ledger.orders
    order_id = place(ledger, world).id
    pay(ledger, order_id)
    orders.ship(FRONTEND, order_id, "s1", world.store_id, {1: 2})
    orders.ship(FRONTEND, order_id, "s2", world.warehouse_id, {2: 1})
    orders.deliver(FRONTEND, order_id, "s1")
    orders.deliver(FRONTEND, order_id, "s2")
    orders.return_items(
        FRONTEND, order_id, return_id="r1", line_no=1, quantity=1, reason="too small"
    )
    result = orders.refund(FRONTEND, order_id, "f1", PRICES[0])
    order = orders.get_order(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert order.version == result.version == 10
    assert order.refunded_fen == PRICES[0]
    assert order.shipments["s2"].node_id == world.warehouse_id
    assert order.shipments["s1"].quantities == {1: 2}


def test_wrong_payment_is_refused_and_writes_nothing(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    before = event_count(ledger)
    with pytest.raises(WrongPaymentAmount):
        pay(ledger, order_id, order_total() - 1)
    assert event_count(ledger) == before


def test_retry_with_the_same_key_returns_the_first_outcome(ledger: Ledger, world: World) -> None:
    command = Command("frontend", IdempotencyKey("order-key-1", "body-1"))
    first = place(ledger, world, command=command)
    before = event_count(ledger)
    assert place(ledger, world, command=command) == first
    assert event_count(ledger) == before


def test_same_key_with_another_request_is_refused(ledger: Ledger, world: World) -> None:
    place(ledger, world, command=Command("frontend", IdempotencyKey("k", "body-1")))
    before = event_count(ledger)
    with pytest.raises(IdempotencyKeyReused):
        place(ledger, world, command=Command("frontend", IdempotencyKey("k", "body-2")))
    assert event_count(ledger) == before


def test_the_same_key_in_two_scopes_is_two_keys(ledger: Ledger, world: World) -> None:
    mall = Command("frontend:mall", IdempotencyKey("k", "body-1", "frontend:mall POST /orders"))
    app = Command("frontend:app", IdempotencyKey("k", "body-2", "frontend:app POST /orders"))
    first, second = place(ledger, world, command=mall), place(ledger, world, command=app)
    assert first.id != second.id
    before = event_count(ledger)
    assert (place(ledger, world, command=mall), place(ledger, world, command=app)) == (
        first,
        second,
    )
    assert event_count(ledger) == before


def test_a_key_recorded_before_keys_had_scopes_answers_only_the_same_request(
    ledger: Ledger, world: World
) -> None:
    unscoped = place(ledger, world, command=Command("frontend:mall", IdempotencyKey("k", "body")))
    before = event_count(ledger)
    retry = IdempotencyKey("k", "body", "frontend:mall POST /orders")
    assert place(ledger, world, command=Command("frontend:mall", retry)) == unscoped
    assert event_count(ledger) == before
    another = IdempotencyKey("k", "another body", "frontend:app POST /orders")
    assert place(ledger, world, command=Command("frontend:app", another)).id != unscoped.id


def test_a_payment_reported_again_is_answered_as_the_first_time_and_writes_nothing(
    ledger: Ledger, world: World
) -> None:
    order_id = place(ledger, world).id
    payment = ProviderPayment("4200001", order_id, order_total(), ledger.clock.now())
    first = ledger.orders.pay(payment)
    before = event_count(ledger)
    assert ledger.orders.pay(payment) == first == CommandResult(order_id, 4)
    assert event_count(ledger) == before
    assert ledger.orders.get_order(order_id).transaction_id == "4200001"


def test_a_second_transaction_for_a_paid_order_is_a_conflict(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    pay(ledger, order_id, transaction_id="4200001")
    before = event_count(ledger)
    with pytest.raises(OrderAlreadyPaid) as refused:
        pay(ledger, order_id, transaction_id="4200002")
    assert refused.value.extensions["transaction_id"] == "4200001"
    assert event_count(ledger) == before


def test_a_transaction_id_reported_again_with_other_facts_is_refused(
    ledger: Ledger, world: World
) -> None:
    order_id = place(ledger, world).id
    other_order = place(ledger, world).id
    pay(ledger, order_id, transaction_id="4200001")
    before = event_count(ledger)
    with pytest.raises(TransactionReused):
        pay(ledger, other_order, transaction_id="4200001")
    assert event_count(ledger) == before
    assert ledger.orders.get_order(other_order).status is OrderStatus.AWAITING_PAYMENT


def test_money_taken_before_the_window_closed_pays_a_late_reported_order(
    ledger: Ledger, world: World, clock: ManualClock
) -> None:
    order_id = place(ledger, world).id
    taken_at = clock.now() + timedelta(minutes=29)
    clock.advance(timedelta(minutes=31))
    ledger.orders.pay(ProviderPayment("4200001", order_id, order_total(), taken_at))
    assert ledger.orders.get_order(order_id).status is OrderStatus.PAID
    late = place(ledger, world).id
    clock.advance(timedelta(minutes=31))
    with pytest.raises(OrderNotPayable):
        ledger.orders.pay(ProviderPayment("4200002", late, order_total(), clock.now()))


def test_stale_expected_version_is_a_conflict(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    pay(ledger, order_id)
    with pytest.raises(VersionConflict):
        ledger.orders.cancel(FRONTEND, order_id, "oops", expected_version=3)


def test_state_as_of_any_past_instant(ledger: Ledger, world: World, clock: ManualClock) -> None:
    placed_at = clock.now()
    order_id = place(ledger, world).id
    clock.advance(timedelta(minutes=5))
    pay(ledger, order_id)
    clock.advance(timedelta(hours=2))
    ledger.orders.ship(FRONTEND, order_id, "s1", world.store_id, {1: 2, 2: 1})

    at = ledger.order_history.as_of
    assert at(order_id, placed_at).status is OrderStatus.AWAITING_PAYMENT
    assert at(order_id, placed_at + timedelta(minutes=6)).status is OrderStatus.PAID
    assert at(order_id, clock.now()).status is OrderStatus.SHIPPED
    with pytest.raises(NotFound):
        at(order_id, placed_at - timedelta(seconds=1))


def test_history_lists_every_event_with_when_and_who(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    pay(ledger, order_id, transaction_id="wx-1")
    history = ledger.order_history.entries(order_id)
    assert [(h.version, h.event, h.actor) for h in history] == [
        (1, "Placed", "frontend:test"),
        (2, "Attributed", "frontend:test"),
        (3, "Allocated", "frontend:test"),
        (4, "Paid", PAYMENT_PROVIDER_ACTOR),
    ]
    paid = history[3].data
    assert (paid["amount_fen"], paid["transaction_id"]) == (order_total(), "wx-1")
    assert history[3].data["attribution"]["guide_id"] == world.guide_id


def test_unknown_order_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.orders.get_order(uuid4())
    with pytest.raises(NotFound):
        ledger.order_history.entries(uuid4())


def test_payment_window_sweep_cancels_only_unpaid_orders_past_due(
    ledger: Ledger, world: World, clock: ManualClock
) -> None:
    unpaid = place(ledger, world).id
    paid = place(ledger, world).id
    pay(ledger, paid)
    clock.advance(timedelta(minutes=10))
    recent = place(ledger, world).id

    clock.advance(timedelta(minutes=21))
    assert ledger.orders.expire_unpaid_orders() == [unpaid]
    assert ledger.orders.expire_unpaid_orders() == []
    order = ledger.orders.get_order(unpaid)
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason == PAYMENT_WINDOW_EXPIRED
    assert ledger.orders.get_order(recent).status is OrderStatus.AWAITING_PAYMENT

    clock.advance(timedelta(minutes=10))
    assert ledger.orders.expire_unpaid_orders() == [recent]
