"""The orders' application: placing an order, its lifecycle and the payment-window sweep.

It is also the event store of the contexts an order touches: placing an order saves it
with the stock it reserves and the shipping nodes' daily loads, paying it saves the
provider's transaction and the member's binding, each in one transaction; so stock,
daily loads, bindings and the routing and attribution policy books are kept here too.
The fulfilment and attribution contexts' own commands (`StockControl`, `RoutingDesk`,
`Bindings`, `AttributionDesk`) run through this store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from guideledger.attribution.application.attributor import Attributor
from guideledger.attribution.domain.rules import Attribution, AttributionEvidence, AttributionPolicy
from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.fulfilment.application.planner import Fulfilment
from guideledger.fulfilment.application.routing_view import RoutingView
from guideledger.fulfilment.domain.routing import (
    AllocatedLine,
    Allocation,
    CandidateOutcome,
    LineDemand,
    RoutingDecision,
    RoutingPolicy,
)
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import Fen, GeoPoint, natural_id
from guideledger.orders.application.personal import seal_delivery, seal_evidence, seal_reason
from guideledger.orders.application.projections import UNPAID_ORDERS, UnpaidOrders
from guideledger.orders.domain.errors import CannotCancel
from guideledger.orders.domain.lines import (
    DeliveryAddress,
    Discount,
    OrderLine,
    require_price_in_force,
)
from guideledger.orders.domain.order import Order
from guideledger.orders.domain.payments import ProviderPayment, ProviderTransaction
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide
from guideledger.organisation.domain.units import Node, NodeKind
from guideledger.readmodels.model import ReadModels

DEFAULT_PAYMENT_WINDOW = timedelta(minutes=30)
PAYMENT_WINDOW_ACTOR = "system:payment-window"
PAYMENT_PROVIDER_ACTOR = "provider:payments"


@dataclass(frozen=True)
class LineRequest:
    """A line as the frontend sends it; numbered by position."""

    sku_id: UUID
    quantity: int
    unit_price_fen: Fen


@dataclass(frozen=True)
class DeliveryRequest:
    """Where the frontend says the parcel goes; the address is sealed before it is stored."""

    address: str
    location: GeoPoint
    city: str | None = None


OrderChange = Callable[[Order, datetime], None]
StockEffects = Callable[[Order, datetime, str], Sequence[Aggregate]]


class OrderApplication(LedgerApplication):
    name = "orders"
    value_types = (
        GeoPoint,
        Sealed,
        OrderLine,
        Discount,
        AttributionEvidence,
        DeliveryAddress,
        RoutingDecision,
        RoutingPolicy,
        Allocation,
        AllocatedLine,
        CandidateOutcome,
        Attribution,
        AttributionPolicy,
    )
    # A warehouse's stock of a promotion's SKU records tens of thousands of events a month;
    # after a restart its first read starts from the latest snapshot.
    snapshotting_intervals = {Stock: 100}  # noqa: RUF012  (the library's shape)

    def __init__(
        self,
        runtime: Runtime,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
    ) -> None:
        super().__init__(runtime)
        self.organisation = organisation
        self.read_models = read_models
        self.payment_window = payment_window
        self.fulfilment = Fulfilment(self.repository, RoutingView(self, organisation, read_models))
        self.attributor = Attributor(organisation, self.repository, read_models)

    def place_order(
        self,
        command: Command,
        *,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        delivery: DeliveryRequest,
        evidence: AttributionEvidence,
        discounts: Sequence[Discount] = (),
    ) -> CommandResult:
        """Places the order and routes it: allocated with stock reserved, or queued. Its
        lines are at their SKUs' prices in force; `discounts` come off the whole order."""
        # A retry with the same key collides on the order id as well as on the key.
        if command.idempotency is not None:
            order_id = natural_id("order", command.idempotency.scoped)
        else:
            order_id = uuid4()

        def prepare() -> Callable[[], Decision]:
            """What the order says, checked and read in the caller's thread; what it takes
            (routing and reservations) is decided in its turn."""
            now = self.clock.now()
            brand = self._check_references(brand_id, member_id, lines, evidence, now)
            vault = self.organisation.vault
            attribution = self.attributor.decide(brand_id, member_id, evidence, now)
            attribution = replace(attribution, evidence=seal_evidence(vault, member_id, evidence))
            address = seal_delivery(
                vault, member_id, delivery.address, delivery.location, delivery.city
            )
            order_lines = [
                OrderLine(n, line.sku_id, line.quantity, line.unit_price_fen)
                for n, line in enumerate(lines, start=1)
            ]
            demands = [LineDemand(line.line_no, line.sku_id, line.quantity) for line in order_lines]
            candidates = self.fulfilment.candidates(brand_id, demands, now, brand.time_zone, {})

            def decide() -> Decision:
                order = Order.place(
                    order_id=order_id,
                    brand_id=brand_id,
                    member_id=member_id,
                    lines=order_lines,
                    discounts=discounts,
                    delivery=address,
                    evidence=attribution.evidence,
                    payment_window=self.payment_window,
                    occurred_at=now,
                    actor=command.actor,
                )
                order.attribute(attribution, now, command.actor)
                plan = self.fulfilment.plan(
                    order.id,
                    brand_id,
                    order.demands,
                    delivery.location,
                    now,
                    brand.time_zone,
                    command.actor,
                    candidates,
                )
                if plan.decision.routable:
                    order.allocate(plan.decision, now, command.actor)
                else:
                    order.wait_for_stock(plan.decision, now, command.actor)
                return [order, *plan.touched], CommandResult(order.id, order.version)

            return decide

        # Orders of this process for the same SKUs take turns, a turn's orders reserving
        # one after another on the same stock and saved together.
        return self.prepare_and_execute(command, prepare, turn_keys=[line.sku_id for line in lines])

    # --- the rest of the lifecycle ------------------------------------------------------

    def pay(self, payment: ProviderPayment) -> CommandResult:
        """Records a payment the provider reported; the member's first attributed purchase
        binds them to the guide. Idempotent by the provider's transaction id: the same
        payment reported again is answered as the first time and writes nothing; other
        facts under a recorded transaction id are refused."""

        def decide() -> Decision:
            order = self.load(Order, payment.order_id)
            recorded = self._transaction_record(payment.transaction_id, order)
            if recorded is not None:
                return [], CommandResult(payment.order_id, recorded.delivered_again(payment))
            now = self.clock.now()
            time_zone = self.organisation.fact(Brand, order.brand_id, "brand_id").time_zone
            order.pay(payment, time_zone, now, PAYMENT_PROVIDER_ACTOR)
            transaction = ProviderTransaction.record(
                payment, order.version, now, PAYMENT_PROVIDER_ACTOR
            )
            binding = self._bind_after_purchase(order, now, PAYMENT_PROVIDER_ACTOR)
            return [order, transaction, *binding], CommandResult(order.id, order.version)

        return self.execute(Command(PAYMENT_PROVIDER_ACTOR), decide)

    def _transaction_record(self, transaction_id: str, order: Order) -> ProviderTransaction | None:
        """The provider's transaction as recorded, if it is. Read from the store itself when
        the order says that transaction paid it: a delivery racing this one may have
        recorded both since this process last looked at its log, and the order may have
        been read afresh while the record was still known missing."""
        record_id = ProviderTransaction.create_id(transaction_id)
        if order.transaction_id != transaction_id:
            return self.find(ProviderTransaction, record_id)
        record: Aggregate = self.repository.get(record_id)
        assert isinstance(record, ProviderTransaction), "recorded with the payment"
        return record

    def _bind_after_purchase(self, order: Order, now: datetime, actor: str) -> list[Aggregate]:
        guide_id = order.attribution.guide_id if order.attribution else None
        if guide_id is None:
            return []
        return [
            self.attributor.binding_after_purchase(
                order.member_id, order.brand_id, guide_id, order.id, now, actor
            )
        ]

    def cancel(
        self, command: Command, order_id: UUID, reason: str, expected_version: int | None = None
    ) -> CommandResult:
        return self._change_with_stock(
            command,
            order_id,
            expected_version,
            lambda order, now: order.cancel(self._seal(order, reason), now, command.actor),
            self._release_reservations,
        )

    def ship(
        self,
        command: Command,
        order_id: UUID,
        shipment_id: str,
        node_id: UUID,
        quantities: Mapping[int, int],
        expected_version: int | None = None,
    ) -> CommandResult:
        """Dispatches a parcel from an allocated node; its reserved units leave the shelf."""

        def commit(order: Order, now: datetime, actor: str) -> Sequence[Aggregate]:
            stocks = []
            for line_no, quantity in quantities.items():
                stock = self._stock(node_id, order.line(line_no).sku_id)
                stock.commit(order.id, line_no, quantity, now, actor)
                stocks.append(stock)
            return stocks

        return self._change_with_stock(
            command,
            order_id,
            expected_version,
            lambda order, now: order.ship(shipment_id, node_id, quantities, now, command.actor),
            commit,
        )

    def deliver(
        self,
        command: Command,
        order_id: UUID,
        shipment_id: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.deliver(shipment_id, self.clock.now(), command.actor),
        )

    def return_items(
        self,
        command: Command,
        order_id: UUID,
        *,
        return_id: str,
        line_no: int,
        quantity: int,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Takes units back; they go back on the shelf of the node that shipped them."""

        def restock(order: Order, now: datetime, actor: str) -> Sequence[Aggregate]:
            stocks = []
            for node_id, units in order.restock_of(return_id):
                stock = self._stock(node_id, order.line(line_no).sku_id)
                stock.restock(order.id, line_no, units, now, actor)
                stocks.append(stock)
            return stocks

        return self._change_with_stock(
            command,
            order_id,
            expected_version,
            lambda order, now: order.return_items(
                return_id, line_no, quantity, self._seal(order, reason), now, command.actor
            ),
            restock,
        )

    def refund(
        self,
        command: Command,
        order_id: UUID,
        refund_id: str,
        amount_fen: Fen,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self.update(
            command,
            Order,
            order_id,
            expected_version,
            lambda order: order.refund(refund_id, amount_fen, self.clock.now(), command.actor),
        )

    def expire_unpaid_orders(self, as_of: datetime | None = None) -> list[UUID]:
        """Cancels every unpaid order whose payment window closed by `as_of`.

        Run by a scheduler or `guideledger expire-unpaid`. Safe to run twice or
        concurrently: an order paid or cancelled meanwhile is skipped.
        """
        as_of = self.as_of(as_of)
        self.read_models.catch_up(UnpaidOrders)
        due = sorted(
            (row["payment_due_at"], row["order_id"])
            for row in self.read_models.select(UNPAID_ORDERS, {})
            if row["payment_due_at"] <= as_of
        )
        expired = []
        for _due_at, order_id in due:
            try:
                self._change_with_stock(
                    Command(actor=PAYMENT_WINDOW_ACTOR),
                    order_id,
                    None,
                    lambda order, _now: order.expire_payment_window(as_of, PAYMENT_WINDOW_ACTOR),
                    self._release_reservations,
                )
            except CannotCancel:
                continue
            expired.append(order_id)
        return expired

    def _change_with_stock(
        self,
        command: Command,
        order_id: UUID,
        expected_version: int | None,
        change: OrderChange,
        stock_effects: StockEffects,
    ) -> CommandResult:
        """Changes the order, then the stock that change moves, saved in one transaction."""

        def decide() -> Decision:
            order = self.load(Order, order_id, expected_version)
            now = self.clock.now()
            change(order, now)
            stocks = stock_effects(order, now, command.actor)
            return [order, *stocks], CommandResult(order.id, order.version)

        return self.execute(command, decide)

    def _release_reservations(self, order: Order, now: datetime, actor: str) -> Sequence[Aggregate]:
        stocks = []
        for allocation in order.allocations:
            for line in allocation.lines:
                stock = self._stock(allocation.node_id, line.sku_id)
                stock.release(order.id, line.line_no, now, actor)
                stocks.append(stock)
        return stocks

    # --- queries and helpers ----------------------------------------------------------

    def get_order(self, order_id: UUID) -> Order:
        return self.load(Order, order_id)

    def _stock(self, node_id: UUID, sku_id: UUID) -> Stock:
        return self.load(Stock, Stock.create_id(node_id, sku_id))

    def _seal(self, order: Order, reason: str) -> Sealed:
        return seal_reason(self.organisation.vault, order.member_id, reason)

    def _check_references(
        self,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        evidence: AttributionEvidence,
        now: datetime,
    ) -> Brand:
        """The brand, once every reference is known and of the brand, and every line is
        at its SKU's price in force (read afresh: prices change)."""
        org = self.organisation
        brand = org.fact(Brand, brand_id, "brand_id")
        org.require_member_of_brands_group(member_id, brand_id)
        for position, line in enumerate(lines, start=1):
            sku = org.reference(Sku, line.sku_id, f"lines[{position}].sku_id", for_change=False)
            if sku.brand_id != brand_id:
                raise RuleViolated("a line's SKU belongs to another brand", line_no=position)
            require_price_in_force(position, line.unit_price_fen, sku.price_in_force(now))
        if evidence.guide_id is not None:
            guide = org.fact(Guide, evidence.guide_id, "evidence.guide_id")
            if guide.brand_id != brand_id:
                raise RuleViolated("the guide works for another brand")
        if evidence.store_id is not None:
            store = org.fact(Node, evidence.store_id, "evidence.store_id")
            if store.brand_id != brand_id or store.kind is not NodeKind.STORE:
                raise RuleViolated("evidence.store_id names no store of this brand")
        return brand
