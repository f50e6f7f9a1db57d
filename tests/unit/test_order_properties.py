"""Random command sequences against one order: invariants hold and replay equals live."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from eventsourcing.application import project_aggregate
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.fulfilment.domain.routing import NodeCandidate, route
from guideledger.kernel.errors import DomainError
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import GeoPoint
from guideledger.orders.domain.lines import DeliveryAddress, OrderLine, OrderStatus
from guideledger.orders.domain.order import Order
from guideledger.orders.domain.payments import ProviderPayment
from guideledger.organisation.domain.units import NodeKind

START = datetime(2026, 11, 1, tzinfo=UTC)
LINE_NOS = st.integers(min_value=1, max_value=3)
AMOUNTS = st.integers(min_value=1, max_value=40_000)


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.counter = 0
        self.order = Order.place(
            order_id=uuid4(),
            brand_id=uuid4(),
            member_id=uuid4(),
            lines=[OrderLine(n, uuid4(), n + 1, 1000 * n + 1) for n in (1, 2, 3)],
            delivery=DeliveryAddress(
                Sealed(uuid4(), "x"), GeoPoint(31, 121), Sealed(uuid4(), "31,121")
            ),
            evidence=AttributionEvidence(Channel.DIRECT),
            payment_window=timedelta(minutes=30),
            occurred_at=START,
            actor="t",
        )
        self.node_id = uuid4()
        stock = {line.sku_id: 99 for line in self.order.lines}
        node = NodeCandidate(self.node_id, NodeKind.STORE, uuid4(), GeoPoint(31, 121), stock)
        decision = route(self.order.demands, GeoPoint(31, 121), [node])
        self.order.allocate(decision, START, "t")
        self.events = list(self.order.collect_events())

    def attempt(self, command: str, *args: object) -> None:
        """Runs a command; a refusal must leave the order unchanged."""
        self.now += timedelta(minutes=1)
        self.counter += 1
        before = self.order.version
        try:
            getattr(self.order, command)(*args, self.now, "t")
        except DomainError:
            assert self.order.version == before
        self.events.extend(self.order.collect_events())

    @rule(exact=st.booleans(), extra=st.integers(-5, 5))
    def pay(self, exact: bool, extra: int) -> None:
        amount = max(0, self.order.total_fen + (0 if exact else extra))
        payment = ProviderPayment(f"p{self.counter}", self.order.id, amount, self.now)
        self.attempt("pay", payment, "Asia/Shanghai")

    @rule()
    def cancel(self) -> None:
        self.attempt("cancel", Sealed(uuid4(), "reason"))

    @rule(quantities=st.dictionaries(LINE_NOS, st.integers(1, 4), min_size=1, max_size=3))
    def ship(self, quantities: dict[int, int]) -> None:
        self.attempt("ship", f"s{self.counter}", self.node_id, quantities)

    @precondition(lambda self: bool(self.order.shipments))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        shipment_id = data.draw(st.sampled_from(sorted(self.order.shipments)))
        self.attempt("deliver", shipment_id)

    @rule(line_no=LINE_NOS, quantity=st.integers(1, 4))
    def return_items(self, line_no: int, quantity: int) -> None:
        self.attempt(
            "return_items", f"r{self.counter}", line_no, quantity, Sealed(uuid4(), "reason")
        )

    @rule(amount=AMOUNTS)
    def refund(self, amount: int) -> None:
        self.attempt("refund", f"f{self.counter}", amount)

    @invariant()
    def quantities_never_exceed_what_came_before(self) -> None:
        for line in self.order.lines:
            n = line.line_no
            assert 0 <= self.order.returned_quantity(n) <= self.order.delivered_quantity(n)
            assert self.order.delivered_quantity(n) <= self.order.shipped_quantity(n)
            assert self.order.shipped_quantity(n) <= line.quantity

    @invariant()
    def money_back_never_exceeds_money_in(self) -> None:
        assert 0 <= self.order.refunded_fen <= self.order.paid_fen
        assert self.order.refundable_fen >= 0
        assert self.order.paid_fen in {0, self.order.total_fen}

    @invariant()
    def nothing_ships_once_cancelled(self) -> None:
        if self.order.status is OrderStatus.CANCELLED:
            assert not self.order.shipments

    @invariant()
    def replay_equals_live(self) -> None:
        replayed = project_aggregate(None, self.events)
        assert replayed is not None
        assert replayed.__dict__ == self.order.__dict__


TestOrderLifecycle = OrderLifecycle.TestCase
