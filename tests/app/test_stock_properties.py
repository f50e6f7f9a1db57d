"""Random interleavings of stock and order commands: no oversell, units conserved,
and the routing read model always equals the stock aggregates (replay equals live).
Orders come one by one or several in one turn (a live stream's buyers), deciding one
after another on the same stock and saved together; delivered units are returned, or
exchanged for another size whose replacement is routed, reserved and shipped."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from guideledger.bootstrap import bootstrap
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.errors import DomainError
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.turns import in_one_turn
from tests.world import (
    ADMIN,
    FRONTEND,
    PRICES,
    build_world,
    order_total,
    pay,
    place_order,
    receive,
)

QUANTITIES = st.integers(min_value=1, max_value=4)


class StockAndOrders(RuleBasedStateMachine):
    orders = Bundle("orders")
    delivered = Bundle("delivered")

    def __init__(self) -> None:
        super().__init__()
        clock = ManualClock(datetime(2026, 11, 2, tzinfo=UTC))
        self.ledger = bootstrap(Settings(persistence=Persistence.MEMORY), clock)
        self.world = build_world(self.ledger, stocked=False)
        self.nodes = [self.world.store_id, self.world.other_store_id, self.world.warehouse_id]
        size_l = self.ledger.organisation.register_sku(
            ADMIN,
            brand_id=self.world.brand_id,
            code="SKU-1-L",
            name="SKU 1, size L",
            category="footwear",
            price_fen=PRICES[0],
        ).id
        self.skus = [*self.world.sku_ids, size_l]  # size L: what line 1 is exchanged for
        self.received = 0
        self.shipped = 0
        self.restocked = 0
        self.exchanges = 0
        # Enough to start with that orders ship and come back early in a run, and little
        # enough that they soon wait for stock (replacements sooner).
        for sku, units in ((0, 8), (1, 8), (2, 2)):
            self.receive(node=2, sku=sku, quantity=units)

    def teardown(self) -> None:
        self.ledger.close()

    @rule(node=st.integers(0, 2), sku=st.integers(0, 2), quantity=QUANTITIES)
    def receive(self, node: int, sku: int, quantity: int) -> None:
        receive(self.ledger, self.nodes[node], self.skus[sku], quantity)
        self.received += quantity

    @rule(target=orders, first=QUANTITIES, second=st.integers(0, 3))
    def place(self, first: int, second: int) -> UUID:
        quantities = (first, second) if second else (first,)
        order_id = place_order(self.ledger, self.world, quantities=quantities).id
        order = self.ledger.orders.get_order(order_id)
        if order.allocations:
            pay(self.ledger, order_id, order_total(quantities))
        return order_id

    @rule(
        target=orders,
        buyers=st.lists(st.tuples(QUANTITIES, st.integers(0, 3)), min_size=2, max_size=6),
    )
    def place_in_one_turn(self, buyers: list[tuple[int, int]]) -> object:
        def buy(first: int, second: int) -> CommandResult:
            quantities = (first, second) if second else (first,)
            return place_order(self.ledger, self.world, quantities=quantities)

        outcomes = in_one_turn(
            self.ledger.orders,
            self.world.sku_ids,
            [lambda first=first, second=second: buy(first, second) for first, second in buyers],
        )
        placed = [outcome.id for outcome in outcomes if isinstance(outcome, CommandResult)]
        assert len(placed) == len(buyers)
        for order_id in placed:
            order = self.ledger.orders.get_order(order_id)
            assert bool(order.allocations) != order.awaiting_stock
        return multiple(*placed)

    @rule(order_id=orders)
    def cancel(self, order_id: UUID) -> None:
        with contextlib.suppress(DomainError):
            self.ledger.orders.cancel(FRONTEND, order_id, "changed mind")

    @rule(target=delivered, order_id=orders)
    def ship_everything(self, order_id: UUID) -> object:
        """Ships and delivers what each allocated node has left to ship, replacements too."""
        order = self.ledger.orders.get_order(order_id)
        for allocation in (*order.allocations, *order.replacement_allocations):
            node_id = allocation.node_id
            left = {
                line.line_no: line.quantity - order.shipped_quantity(line.line_no, node_id)
                for line in allocation.lines
            }
            quantities = {line_no: units for line_no, units in left.items() if units}
            if not quantities:
                continue
            shipment_id = f"p{len(order.shipments)}"
            try:
                self.ledger.orders.ship(FRONTEND, order_id, shipment_id, node_id, quantities)
                self.ledger.orders.deliver(FRONTEND, order_id, shipment_id)
                self.shipped += sum(quantities.values())
            except DomainError:
                pass
            order = self.ledger.orders.get_order(order_id)
        return multiple(order_id) if order.delivered_at else multiple()

    @rule(order_id=orders, quantity=QUANTITIES)
    def return_some(self, order_id: UUID, quantity: int) -> None:
        try:
            self.ledger.orders.return_items(
                Command("support"),
                order_id,
                return_id=f"r{self.restocked}-{quantity}",
                line_no=1,
                quantity=quantity,
                reason="size",
            )
            self.restocked += quantity
        except DomainError:
            pass

    @rule(order_id=delivered, quantity=QUANTITIES, node=st.integers(0, 2))
    def exchange_some(self, order_id: UUID, quantity: int, node: int) -> None:
        """Units of line 1 come back at a node and size L is routed in their place."""
        try:
            self.ledger.exchanges.exchange(
                Command("support"),
                order_id,
                exchange_id=f"x{self.exchanges}",
                line_no=1,
                quantity=quantity,
                sku_id=self.skus[2],
                received_at_node_id=self.nodes[node],
            )
            self.exchanges += 1
            self.restocked += quantity
        except DomainError:
            pass

    def stocks(self) -> list[Stock]:
        found = []
        for node_id in self.nodes:
            for sku_id in self.skus:
                stock_id = Stock.create_id(node_id, sku_id)
                if self.ledger.orders.exists(Stock, stock_id):
                    found.append(self.ledger.orders.load(Stock, stock_id))
        return found

    @invariant()
    def never_oversold(self) -> None:
        for stock in self.stocks():
            assert 0 <= stock.reserved <= stock.on_hand

    @invariant()
    def units_are_conserved(self) -> None:
        on_hand = sum(stock.on_hand for stock in self.stocks())
        assert on_hand == self.received - self.shipped + self.restocked

    @invariant()
    def read_model_equals_the_aggregates(self) -> None:
        read = {
            (p.node_id, p.sku_id): (p.on_hand, p.reserved)
            for node_id in self.nodes
            for p in self.ledger.stock.positions(node_id=node_id)
        }
        live = {(s.node_id, s.sku_id): (s.on_hand, s.reserved) for s in self.stocks()}
        assert read == live


StockAndOrders.TestCase.settings = settings(stateful_step_count=25)
TestStockAndOrders = StockAndOrders.TestCase
