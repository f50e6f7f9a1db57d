"""The order context: orders, stock, routing, and the payment-window sweep.

Orders and stock live in one application so that placing an order, its
allocation and the stock it reserves are saved in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID, uuid4

from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, DomainEventProtocol

from guideledger.attribution.application.attributor import ATTRIBUTION, Attributor
from guideledger.attribution.application.projections import MEMBER_BINDINGS, MemberBindings
from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import Attribution, AttributionChannel, AttributionPolicy
from guideledger.eventstore.application import Clock, LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.eventstore.concurrency import StripedLocks
from guideledger.fulfilment.application.planner import ROUTING, Fulfilment
from guideledger.fulfilment.application.projections import STOCK_AVAILABILITY, StockAvailability
from guideledger.fulfilment.domain.routing import (
    AllocatedLine,
    Allocation,
    CandidateOutcome,
    LineDemand,
    RoutingDecision,
    RoutingPolicy,
)
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.errors import InvalidValue, NotFound, RuleViolated
from guideledger.kernel.periods import PeriodClosed
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import Fen, GeoPoint, natural_id, require_text, require_utc
from guideledger.orders.application.projections import (
    UNPAID_ORDERS,
    UNROUTABLE_ORDERS,
    UnpaidOrders,
    UnroutableQueue,
)
from guideledger.orders.domain import (
    AttributionEvidence,
    CannotCancel,
    DeliveryAddress,
    Order,
    OrderLine,
)
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.policy_books import publish, published
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide, GuideSnapshot
from guideledger.organisation.domain.members import Member
from guideledger.organisation.domain.units import Node, NodeKind, StoreSnapshot
from guideledger.readmodels.model import ReadModels, event_data, event_name

DEFAULT_PAYMENT_WINDOW = timedelta(minutes=30)
PAYMENT_WINDOW_ACTOR = "system:payment-window"
ROUTER_ACTOR = "system:router"
GUIDE_DEPARTURE_ACTOR = "system:guide-departure"
log = logging.getLogger("guideledger.orders")


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


@dataclass(frozen=True)
class StockPosition:
    node_id: UUID
    sku_id: UUID
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class WaitingOrder:
    order_id: UUID
    reason: str
    since: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One fact in an order's life, for support."""

    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]


class PeriodGate(Protocol):
    """Whether the settlement period containing an instant is closed (the ledger knows)."""

    def is_closed(self, brand_id: UUID, moment: datetime) -> bool: ...


class _OrderFact(Protocol):
    """What every order event carries besides its own data."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    occurred_at: datetime
    actor: str


OrderChange = Callable[[Order, datetime], None]
StockEffects = Callable[[Order, datetime, str], Sequence[Aggregate]]


class OrderApplication(LedgerApplication):
    name = "orders"
    value_types = (
        GeoPoint,
        Sealed,
        OrderLine,
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
        clock: Clock,
        organisation: OrganisationApplication,
        read_models: ReadModels,
        period_gate: PeriodGate,
        env: dict[str, str] | None = None,
        payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
    ) -> None:
        super().__init__(clock, env)
        self.organisation = organisation
        self.read_models = read_models
        self.payment_window = payment_window
        self.fulfilment = Fulfilment(self.repository, read_models)
        self.attributor = Attributor(organisation, self.repository, read_models)
        self.period_gate = period_gate
        self.sku_turns = StripedLocks()  # orders for the same SKUs reserve in turn

    # --- placing -----------------------------------------------------------------

    def place_order(
        self,
        command: Command,
        *,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        delivery: DeliveryRequest,
        evidence: AttributionEvidence,
    ) -> CommandResult:
        """Places the order and routes it: allocated with stock reserved, or queued."""
        # A retry with the same key collides on the order id as well as on the key.
        if command.idempotency is not None:
            order_id = natural_id("order", command.idempotency.key)
        else:
            order_id = uuid4()

        def decide() -> Decision:
            brand = self._check_references(brand_id, member_id, lines, evidence)
            now = self.clock.now()
            order = Order.place(
                order_id=order_id,
                brand_id=brand_id,
                member_id=member_id,
                lines=[
                    OrderLine(n, line.sku_id, line.quantity, line.unit_price_fen)
                    for n, line in enumerate(lines, start=1)
                ],
                delivery=DeliveryAddress(
                    self.organisation.vault.seal(
                        member_id, require_text("address", delivery.address, 500)
                    ),
                    delivery.location,
                ),
                evidence=evidence,
                payment_window=self.payment_window,
                time_zone=brand.time_zone,
                occurred_at=now,
                actor=command.actor,
            )
            attribution = self.attributor.decide(brand_id, member_id, evidence, now)
            order.attribute(attribution, now, command.actor)
            touched = self._route(order, brand.time_zone, attribution.branch_id, now, command.actor)
            return [order, *touched], CommandResult(order.id, order.version)

        with self.sku_turns.holding(line.sku_id for line in lines):
            return self.execute(command, decide)

    def _route(
        self,
        order: Order,
        time_zone: str,
        selling_branch_id: UUID | None,
        now: datetime,
        actor: str,
    ) -> list[Aggregate]:
        plan = self.fulfilment.plan(
            order.id, order.brand_id, order.demands, order.delivery.location, now, time_zone, actor
        )
        if plan.decision.routable:
            order.allocate(plan.decision, selling_branch_id, now, actor)
        else:
            order.wait_for_stock(plan.decision, now, actor)
        return plan.touched

    def route_waiting_orders(self, brand_id: UUID) -> list[UUID]:
        """Routes again every order of the brand waiting for stock; returns those now allocated."""
        self.read_models.catch_up(UnroutableQueue)
        brand = self.organisation.load(Brand, brand_id)
        allocated: set[UUID] = set()  # a decision re-run after a lost race adds nothing twice
        waiting_orders = self.waiting_orders(brand_id)
        for waiting in waiting_orders:

            def decide(order_id: UUID = waiting.order_id) -> Decision:
                order = self.load(Order, order_id)
                if not order.awaiting_stock:
                    return [], CommandResult(order.id, order.version)
                now = self.clock.now()
                plan = self.fulfilment.plan(
                    order.id,
                    order.brand_id,
                    order.demands,
                    order.delivery.location,
                    now,
                    brand.time_zone,
                    ROUTER_ACTOR,
                )
                if not plan.decision.routable:
                    return [], CommandResult(order.id, order.version)
                selling_branch_id = order.attribution.branch_id if order.attribution else None
                order.allocate(plan.decision, selling_branch_id, now, ROUTER_ACTOR)
                allocated.add(order.id)
                return [order, *plan.touched], CommandResult(order.id, order.version)

            self.execute(Command(ROUTER_ACTOR), decide)
        return [w.order_id for w in waiting_orders if w.order_id in allocated]

    def dry_run(
        self, brand_id: UUID, lines: Sequence[LineRequest], destination: GeoPoint
    ) -> RoutingDecision:
        """How an order would be routed now; reserves and records nothing."""
        brand = self.organisation.fact(Brand, brand_id, "brand_id")
        demands = [
            LineDemand(n, line.sku_id, line.quantity) for n, line in enumerate(lines, start=1)
        ]
        for demand in demands:
            sku = self.organisation.fact(Sku, demand.sku_id, f"lines[{demand.line_no}].sku_id")
            if sku.brand_id != brand_id:
                raise RuleViolated("a line's SKU belongs to another brand", line_no=demand.line_no)
        return self.fulfilment.dry_run(
            brand_id, demands, destination, self.clock.now(), brand.time_zone
        )

    # --- the rest of the lifecycle ------------------------------------------------------

    def pay(
        self,
        command: Command,
        order_id: UUID,
        amount_fen: Fen,
        payment_ref: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Takes the payment; the member's first attributed purchase binds them to the guide."""

        def decide() -> Decision:
            order = self.load(Order, order_id, expected_version)
            now = self.clock.now()
            order.pay(amount_fen, payment_ref, now, command.actor)
            binding = self._bind_after_purchase(order, now, command.actor)
            return [order, *binding], CommandResult(order.id, order.version)

        return self.execute(command, decide)

    def _bind_after_purchase(self, order: Order, now: datetime, actor: str) -> list[Aggregate]:
        guide_id = order.attribution.guide_id if order.attribution else None
        if guide_id is None:
            return []
        policy = self.attributor.policy_in_force(order.brand_id, now)
        binding = self.attributor.binding(order.member_id, order.brand_id) or MemberBinding(
            order.member_id, order.brand_id
        )
        binding.after_attributed_purchase(
            guide_id, policy.binding_mode, policy.protection, order.id, now, actor
        )
        return [binding]

    def cancel(
        self, command: Command, order_id: UUID, reason: str, expected_version: int | None = None
    ) -> CommandResult:
        return self._change_with_stock(
            command,
            order_id,
            expected_version,
            lambda order, now: order.cancel(reason, now, command.actor),
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
                return_id, line_no, quantity, reason, now, command.actor
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

    # --- stock -------------------------------------------------------------------------

    def receive_stock(
        self, command: Command, node_id: UUID, sku_id: UUID, quantity: int, reference: str
    ) -> CommandResult:
        """Goods arrive at a node; orders waiting for stock are routed again afterwards."""

        def decide() -> Decision:
            node, _sku = self._node_and_sku(node_id, sku_id)
            now = self.clock.now()
            stock = self._find_stock(node_id, sku_id) or Stock.open(
                node_id, sku_id, node.brand_id, now, command.actor
            )
            stock.receive(quantity, reference, now, command.actor)
            return [stock], CommandResult(stock.id, stock.version)

        result = self.execute(command, decide)
        self._route_waiting_quietly(self.organisation.fact(Node, node_id, "node_id").brand_id)
        return result

    def adjust_stock(
        self,
        command: Command,
        node_id: UUID,
        sku_id: UUID,
        delta: int,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        self._node_and_sku(node_id, sku_id)
        result = self.update(
            command,
            Stock,
            Stock.create_id(node_id, sku_id),
            expected_version,
            lambda stock: stock.adjust(delta, reason, self.clock.now(), command.actor),
        )
        if delta > 0:
            self._route_waiting_quietly(self.organisation.fact(Node, node_id, "node_id").brand_id)
        return result

    def _route_waiting_quietly(self, brand_id: UUID) -> None:
        """The stock command already succeeded; a routing failure here must not undo it."""
        try:
            self.route_waiting_orders(brand_id)
        except Exception:
            log.exception("routing waiting orders after a stock change failed")

    def stock_positions(
        self, *, node_id: UUID | None = None, sku_id: UUID | None = None
    ) -> list[StockPosition]:
        """Availability by node or by SKU, from the routing read model."""
        where: dict[str, Any] = {}
        if node_id is not None:
            where["node_id"] = node_id
        if sku_id is not None:
            where["sku_id"] = sku_id
        if not where:
            raise InvalidValue("name a node or a SKU")
        self.read_models.catch_up(StockAvailability)
        return [
            StockPosition(row["node_id"], row["sku_id"], row["on_hand"], row["reserved"])
            for row in self.read_models.select(
                STOCK_AVAILABILITY, where, order_by=("node_id", "sku_id")
            )
        ]

    def waiting_orders(
        self, brand_id: UUID, limit: int = 100, offset: int = 0
    ) -> list[WaitingOrder]:
        self.read_models.catch_up(UnroutableQueue)
        rows = self.read_models.select(
            UNROUTABLE_ORDERS,
            {"brand_id": brand_id},
            order_by=("since",),
            limit=limit,
            offset=offset,
        )
        return [WaitingOrder(row["order_id"], row["reason"], row["since"]) for row in rows]

    # --- routing policy ------------------------------------------------------------------

    def publish_routing_policy(
        self, command: Command, brand_id: UUID, draft: RoutingPolicy
    ) -> CommandResult:
        return publish(self, self.organisation, command, brand_id, ROUTING, draft)

    def routing_policies(self, brand_id: UUID) -> list[RoutingPolicy]:
        return published(self.repository, brand_id, ROUTING)

    # --- attribution corrections, bindings and policies ----------------------------------

    def correct_attribution(
        self,
        command: Command,
        order_id: UUID,
        *,
        guide_id: UUID | None,
        store_id: UUID | None,
        reason: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Support moves a sale to another guide or store; a new event, never an edit."""

        def change(order: Order) -> None:
            assert order.attribution is not None, "every placed order is attributed"
            if order.paid_at and self.period_gate.is_closed(order.brand_id, order.paid_at):
                raise PeriodClosed(
                    "the order's settlement period is closed; attribution can no longer change"
                )
            corrected = self._corrected_attribution(order.attribution, guide_id, store_id)
            order.correct_attribution(corrected, reason, self.clock.now(), command.actor)

        return self.update(command, Order, order_id, expected_version, change)

    def _corrected_attribution(
        self, current: Attribution, guide_id: UUID | None, store_id: UUID | None
    ) -> Attribution:
        if (guide_id is None) == (store_id is None):
            raise InvalidValue("name either the guide or the store the sale belongs to")
        if guide_id is not None:
            guide: GuideSnapshot = self.organisation.guide_snapshot(guide_id)
            store: StoreSnapshot = guide.store
            channel = (
                current.channel
                if current.guide_id is not None
                else AttributionChannel.STORE_ACCOUNT_GUIDE
            )
        else:
            assert store_id is not None
            store = self.organisation.store_snapshot(store_id)
            channel = AttributionChannel.STORE_ONLY
        if self.organisation.fact(Node, store.store_id, "store_id").brand_id != current.brand_id:
            raise RuleViolated("the sale can only move within its brand")
        return Attribution(
            channel=channel,
            rule="support_correction",
            policy_version=current.policy_version,
            brand_id=current.brand_id,
            evidence=current.evidence,
            guide_id=guide_id,
            store_id=store.store_id,
            branch_id=store.branch_id,
            district_id=store.district_id,
            region_id=store.region_id,
        )

    def bind_member(
        self, command: Command, member_id: UUID, brand_id: UUID, guide_id: UUID, reason: str
    ) -> CommandResult:
        """Binds at registration, or support rebinds, whatever the protection window."""

        def decide() -> Decision:
            self.organisation.fact(Member, member_id, "member_id")
            guide = self.organisation.guide_snapshot(guide_id)
            if not guide.active:
                raise RuleViolated("a guide who has left cannot be bound")
            if self.organisation.fact(Guide, guide_id, "guide_id").brand_id != brand_id:
                raise RuleViolated("the guide works for another brand")
            now = self.clock.now()
            policy = self.attributor.policy_in_force(brand_id, now)
            binding = self.attributor.binding(member_id, brand_id) or MemberBinding(
                member_id, brand_id
            )
            binding.bind(guide_id, reason, policy.protection, now, command.actor)
            return [binding], CommandResult(binding.id, binding.version)

        return self.execute(command, decide)

    def release_bindings_of(self, guide_id: UUID, reason: str) -> list[UUID]:
        """A guide left: their members are free again. Safe to run more than once."""
        self.read_models.catch_up(MemberBindings)
        released = []
        for row in self.read_models.select(MEMBER_BINDINGS, {"guide_id": guide_id}):

            def decide(binding_id: UUID = row["binding_id"]) -> Decision:
                binding = self.load(MemberBinding, binding_id)
                if binding.guide_id != guide_id:
                    return [], CommandResult(binding.id, binding.version)
                binding.release(reason, self.clock.now(), GUIDE_DEPARTURE_ACTOR)
                return [binding], CommandResult(binding.id, binding.version)

            self.execute(Command(GUIDE_DEPARTURE_ACTOR), decide)
            released.append(row["member_id"])
        return released

    def binding_history(self, member_id: UUID, brand_id: UUID) -> list[HistoryEntry]:
        binding_id = MemberBinding.create_id(member_id, brand_id)
        facts = cast("list[_OrderFact]", list(self.events.get(binding_id)))
        return [_history_entry(e) for e in facts if not isinstance(e, MemberBinding.Opened)]

    def current_binding(self, member_id: UUID, brand_id: UUID) -> MemberBinding | None:
        return self.attributor.binding(member_id, brand_id)

    def publish_attribution_policy(
        self, command: Command, brand_id: UUID, draft: AttributionPolicy
    ) -> CommandResult:
        return publish(self, self.organisation, command, brand_id, ATTRIBUTION, draft)

    def attribution_policies(self, brand_id: UUID) -> list[AttributionPolicy]:
        return published(self.repository, brand_id, ATTRIBUTION)

    # --- queries -----------------------------------------------------------------------

    def get_order(self, order_id: UUID) -> Order:
        return self.load(Order, order_id)

    def order_as_of(self, order_id: UUID, instant: datetime) -> Order:
        """The order as it stood at `instant`, folded from the events that had occurred."""
        instant = require_utc(instant)
        events = [e for e in self._order_events(order_id) if e.occurred_at <= instant]
        if not events:
            raise NotFound(
                f"order {order_id} had not been placed at {instant.isoformat()}",
                id=str(order_id),
            )
        order = project_aggregate(None, cast("list[DomainEventProtocol[UUID]]", events))
        assert isinstance(order, Order)
        return order

    def order_history(self, order_id: UUID) -> list[HistoryEntry]:
        return [_history_entry(e) for e in self._order_events(order_id)]

    # --- helpers -----------------------------------------------------------------------

    def _order_events(self, order_id: UUID) -> list[_OrderFact]:
        events = list(self.events.get(order_id))
        if not events or not isinstance(events[0], Order.Placed):
            raise NotFound(f"no order {order_id}", id=str(order_id))
        return cast("list[_OrderFact]", events)

    def _stock(self, node_id: UUID, sku_id: UUID) -> Stock:
        return self.load(Stock, Stock.create_id(node_id, sku_id))

    def _find_stock(self, node_id: UUID, sku_id: UUID) -> Stock | None:
        return self.fulfilment.get(Stock, Stock.create_id(node_id, sku_id))

    def _node_and_sku(self, node_id: UUID, sku_id: UUID) -> tuple[Node, Sku]:
        node = self.organisation.fact(Node, node_id, "node_id")
        sku = self.organisation.fact(Sku, sku_id, "sku_id")
        if sku.brand_id != node.brand_id:
            raise RuleViolated("the SKU belongs to another brand than the node")
        return node, sku

    def _check_references(
        self,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[LineRequest],
        evidence: AttributionEvidence,
    ) -> Brand:
        org = self.organisation
        brand = org.fact(Brand, brand_id, "brand_id")
        org.fact(Member, member_id, "member_id")
        for position, line in enumerate(lines, start=1):
            sku = org.fact(Sku, line.sku_id, f"lines[{position}].sku_id")
            if sku.brand_id != brand_id:
                raise RuleViolated("a line's SKU belongs to another brand", line_no=position)
        if evidence.guide_id is not None:
            guide = org.fact(Guide, evidence.guide_id, "evidence.guide_id")
            if guide.brand_id != brand_id:
                raise RuleViolated("the guide works for another brand")
        if evidence.store_id is not None:
            store = org.fact(Node, evidence.store_id, "evidence.store_id")
            if store.brand_id != brand_id or store.kind is not NodeKind.STORE:
                raise RuleViolated("evidence.store_id names no store of this brand")
        return brand


def _history_entry(domain_event: _OrderFact) -> HistoryEntry:
    return HistoryEntry(
        version=domain_event.originator_version,
        event=event_name(domain_event),
        occurred_at=domain_event.occurred_at,
        recorded_at=domain_event.timestamp,
        actor=domain_event.actor,
        data=event_data(domain_event),
    )
