"""The order application on every backend."""

from datetime import timedelta
from uuid import uuid4

import pytest

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.composition import Ledger
from guideledger.eventstore.commands import (
    Command,
    IdempotencyKey,
    IdempotencyKeyReused,
    UnknownReference,
    VersionConflict,
)
from guideledger.kernel.errors import NotFound, RuleViolated
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.orders.domain.errors import WrongPaymentAmount
from guideledger.orders.domain.lines import OrderStatus
from guideledger.orders.domain.order import PAYMENT_WINDOW_EXPIRED
from guideledger.platform.clock import ManualClock
from tests.world import (
    FRONTEND,
    PRICES,
    SHANGHAI,
    World,
    build_world,
    event_count,
    order_total,
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
    orders.pay(FRONTEND, order_id, order_total(), "wx-1")
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
        ledger.orders.pay(FRONTEND, order_id, order_total() - 1, "wx")
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


def test_idempotent_payment_retry_does_not_pay_twice(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    command = Command("frontend", IdempotencyKey("pay-1", "body"))
    first = ledger.orders.pay(command, order_id, order_total(), "wx")
    assert ledger.orders.pay(command, order_id, order_total(), "wx") == first
    assert ledger.orders.get_order(order_id).version == 4


def test_stale_expected_version_is_a_conflict(ledger: Ledger, world: World) -> None:
    order_id = place(ledger, world).id
    ledger.orders.pay(FRONTEND, order_id, order_total(), "wx", expected_version=3)
    with pytest.raises(VersionConflict):
        ledger.orders.cancel(FRONTEND, order_id, "oops", expected_version=3)


def test_state_as_of_any_past_instant(ledger: Ledger, world: World, clock: ManualClock) -> None:
    placed_at = clock.now()
    order_id = place(ledger, world).id
    clock.advance(timedelta(minutes=5))
    ledger.orders.pay(FRONTEND, order_id, order_total(), "wx")
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
    ledger.orders.pay(Command("customer:li"), order_id, order_total(), "wx")
    history = ledger.order_history.entries(order_id)
    assert [(h.version, h.event, h.actor) for h in history] == [
        (1, "Placed", "frontend:test"),
        (2, "Attributed", "frontend:test"),
        (3, "Allocated", "frontend:test"),
        (4, "Paid", "customer:li"),
    ]
    assert (history[3].data["amount_fen"], history[3].data["payment_ref"]) == (order_total(), "wx")
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
    ledger.orders.pay(FRONTEND, paid, order_total(), "wx")
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
