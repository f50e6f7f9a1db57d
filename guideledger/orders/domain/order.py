"""The order aggregate and its lifecycle.

placed ──pay──▶ paid ──ship──▶ partially shipped / shipped ──deliver──▶ delivered
  │               │                       ▲                             │
  └──cancel───────┴──▶ cancelled          └───────── exchange ◀─────────┤
                       (only before anything shipped)                return ──▶ refund

Quantities are tracked per line (shipped, delivered, returned, exchanged) so that a
partial shipment, delivery, return or exchange is an ordinary case, not an exception.

An exchange (换货) swaps delivered units of a line for as many of another SKU at the same
price, with no new payment: the units come back, and the replacement becomes a new line
of the order, numbered after every other, routed and reserved like the placed lines and
shipped and delivered like them (so the order is partially shipped again until it is).
The placed lines (`lines`) and their routing (`routing`, `allocations`) stay what was
sold: commission is computed on them alone, so an exchange neither reverses nor adds any.
The replacement carries what was paid for the units it replaces, so returning it later
refunds that and reverses commission in proportion, as a return of those units would.

The order is one consistency boundary: its twelve events and the rules between them
(pay before shipping, ship what was allocated, return or exchange what was delivered,
refund what came back) live in one class, and each event is declared beside the method
that records it, so the class is longer than most modules here; its parts (lines,
parcels, exchanges, errors) are in `lines` and `errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.attribution.domain.rules import Attribution, AttributionEvidence
from guideledger.fulfilment.domain.routing import Allocation, LineDemand, RoutingDecision
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.money import divide_half_up
from guideledger.kernel.periods import TIME_ZONE_OF_OLD_EVENTS, local_day
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import Fen, require_positive, require_text, require_utc
from guideledger.orders.domain.errors import (
    AttributionRefused,
    CannotCancel,
    DeliveryRefused,
    ExchangePriceDiffers,
    ExchangeRefused,
    OrderAlreadyPaid,
    OrderNotPayable,
    RefundRefused,
    ReturnRefused,
    RoutingRefused,
    ShipmentRefused,
    WrongPaymentAmount,
)
from guideledger.orders.domain.lines import (
    DeliveryAddress,
    Discount,
    Exchange,
    OrderLine,
    OrderStatus,
    ReplacementSku,
    Shipment,
    discounted,
    require_discounts_fit,
)
from guideledger.orders.domain.payments import ProviderPayment

MAX_LINES_PER_ORDER = 100
MAX_EXCHANGES_PER_ORDER = 20
MAX_LINE_NO = MAX_LINES_PER_ORDER + MAX_EXCHANGES_PER_ORDER  # each exchange adds a line
PAYMENT_WINDOW_EXPIRED = "payment window expired"


class Order(Aggregate):
    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        """The application chooses the id, so a retried command can reuse it."""
        return order_id

    @classmethod
    def place(
        cls,
        *,
        order_id: UUID,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[OrderLine],
        delivery: DeliveryAddress,
        evidence: AttributionEvidence,
        payment_window: timedelta,
        occurred_at: datetime,
        actor: str,
        discounts: Sequence[Discount] = (),
    ) -> Order:
        """`discounts` come off the order as a whole: it asks the lines' total less them."""
        if not lines:
            raise InvalidValue("an order needs at least one line")
        if len(lines) > MAX_LINES_PER_ORDER:
            raise InvalidValue(f"an order has at most {MAX_LINES_PER_ORDER} lines")
        if [line.line_no for line in lines] != list(range(1, len(lines) + 1)):
            raise InvalidValue("lines must be numbered 1, 2, 3, ... in order")
        if len({line.sku_id for line in lines}) != len(lines):
            raise InvalidValue("each SKU may appear on one line only")
        if payment_window <= timedelta(0):
            raise InvalidValue("the payment window must be positive")
        require_discounts_fit(lines, discounts)
        _require_sealed(delivery, evidence)
        placed_at = require_utc(occurred_at)
        return cls(
            order_id=order_id,
            brand_id=brand_id,
            member_id=member_id,
            lines=tuple(lines),
            discounts=tuple(discounts),
            delivery=delivery,
            evidence=evidence,
            payment_due_at=placed_at + payment_window,
            occurred_at=placed_at,
            actor=actor,
        )

    class Placed(Aggregate.Created):
        """An order placed before version 2 had no discounts."""

        class_version = 2

        order_id: UUID
        brand_id: UUID
        member_id: UUID
        lines: Sequence[OrderLine]
        discounts: Sequence[Discount]
        delivery: DeliveryAddress
        evidence: AttributionEvidence
        payment_due_at: datetime
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["discounts"] = []

    @event(Placed)
    def __init__(
        self,
        order_id: UUID,
        brand_id: UUID,
        member_id: UUID,
        lines: Sequence[OrderLine],
        discounts: Sequence[Discount],
        delivery: DeliveryAddress,
        evidence: AttributionEvidence,
        payment_due_at: datetime,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.brand_id = brand_id
        self.member_id = member_id
        self.lines = tuple(lines)
        self.discounts = tuple(discounts)
        self._paid_per_line: dict[int, Fen] = dict(
            zip(
                (line.line_no for line in self.lines),
                discounted([line.amount_fen for line in self.lines], self.discount_fen),
                strict=True,
            )
        )
        self.delivery = delivery
        self.placed_by = actor  # the frontend that placed it
        self.evidence = evidence
        self.placed_at = occurred_at
        self.payment_due_at = payment_due_at
        self.paid_fen: Fen = 0
        self.payment_ref: str | None = None  # the frontend's, on payments before version 3
        self.transaction_id: str | None = None  # the payment provider's
        self.cancelled = False
        self.cancel_reason: Sealed | str | None = None
        self.shipments: dict[str, Shipment] = {}
        self.returned: dict[int, int] = {}
        self.returned_fen: Fen = 0  # what the returned units were paid, discounts taken off
        self.return_ids: set[str] = set()
        # Per return, where its units go back on the shelf: (line, node, units).
        self.restocks: dict[str, tuple[tuple[int, UUID, int], ...]] = {}
        self.exchanges: dict[str, Exchange] = {}
        self.refunded_fen: Fen = 0
        self.refund_ids: set[str] = set()
        self.routing: RoutingDecision | None = None  # the placed lines'
        self.replacement_routings: list[RoutingDecision] = []  # those that allocated them
        self.replacement_wait: RoutingDecision | None = None  # why replacements wait
        self.selling_branch_id: UUID | None = None
        self.attribution: Attribution | None = None
        self.paid_at: datetime | None = None
        self.sales_day: str | None = None  # the brand-local day it was paid

    # --- derived state -------------------------------------------------------

    @property
    def replacements(self) -> tuple[OrderLine, ...]:
        """The lines exchanges added, in the order they were added."""
        return tuple(exchange.replacement for exchange in self.exchanges.values())

    @property
    def every_line(self) -> tuple[OrderLine, ...]:
        """The placed lines, then the replacements: everything the order ships."""
        return (*self.lines, *self.replacements)

    @property
    def demands(self) -> list[LineDemand]:
        """What routing must find stock for: the lines no decision has allocated yet (the
        placed lines; once they are, the replacements exchanges added since)."""
        return [
            LineDemand(line.line_no, line.sku_id, line.quantity) for line in self._unallocated()
        ]

    def _unallocated(self) -> tuple[OrderLine, ...]:
        if not self.allocations:
            return self.lines
        allocated = {line.line_no for a in self.replacement_allocations for line in a.lines}
        return tuple(line for line in self.replacements if line.line_no not in allocated)

    @property
    def allocations(self) -> tuple[Allocation, ...]:
        """Where the placed lines ship from (what commission counts cross-branch fees on)."""
        return self.routing.allocations if self.routing else ()

    @property
    def replacement_allocations(self) -> tuple[Allocation, ...]:
        """Where the replacements ship from."""
        return tuple(a for decision in self.replacement_routings for a in decision.allocations)

    def allocated_quantity(self, line_no: int, node_id: UUID) -> int:
        """The units of the line the node was allocated to ship."""
        return sum(
            a.quantity(line_no)
            for a in (*self.allocations, *self.replacement_allocations)
            if a.node_id == node_id
        )

    @property
    def awaiting_stock(self) -> bool:
        """Open, and no node could take its placed lines, or a replacement, yet: it waits in
        the unroutable queue."""
        placed_wait = self.routing is not None and not self.routing.routable
        return not self.cancelled and (placed_wait or self.replacement_wait is not None)

    def is_cross_branch(self, allocation: Allocation) -> bool:
        """The node ships for a sale another branch made."""
        return self.selling_branch_id is not None and allocation.branch_id != self.selling_branch_id

    @property
    def delivered_at(self) -> datetime | None:
        """When the placed lines' last parcel arrived, once every unit sold was delivered:
        the return window counts from then, and a replacement shipped later moves nothing."""
        placed = {line.line_no for line in self.lines}
        if any(self.delivered_quantity(line.line_no) < line.quantity for line in self.lines):
            return None
        return max(
            s.delivered_at
            for s in self.shipments.values()
            if s.delivered_at and placed & s.quantities.keys()
        )

    @property
    def lines_fen(self) -> Fen:
        return sum(line.amount_fen for line in self.lines)

    @property
    def discount_fen(self) -> Fen:
        return sum(discount.amount_fen for discount in self.discounts)

    @property
    def total_fen(self) -> Fen:
        """What the order asks: its lines less its discounts."""
        return self.lines_fen - self.discount_fen

    def paid_for(self, line_no: int, quantity: int | None = None) -> Fen:
        """What the customer really pays for `quantity` units of the line (all of them by
        default): its share of the order's total once the discounts are taken off the
        lines in proportion, rounded half up for part of a line."""
        line, whole = self.line(line_no), self._paid_per_line[line_no]
        if quantity is None or quantity == line.quantity:
            return whole
        return divide_half_up(whole * quantity, line.quantity)

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    def line(self, line_no: int) -> OrderLine:
        for line in self.every_line:
            if line.line_no == line_no:
                return line
        raise InvalidValue(f"the order has no line {line_no}", line_no=line_no)

    def shipped_quantity(self, line_no: int, node_id: UUID | None = None) -> int:
        return sum(
            s.quantities.get(line_no, 0)
            for s in self.shipments.values()
            if node_id is None or s.node_id == node_id
        )

    def delivered_quantity(self, line_no: int) -> int:
        return sum(s.quantities.get(line_no, 0) for s in self.shipments.values() if s.delivered)

    def returned_quantity(self, line_no: int) -> int:
        return self.returned.get(line_no, 0)

    def exchanged_quantity(self, line_no: int) -> int:
        return sum(e.quantity for e in self.exchanges.values() if e.line_no == line_no)

    def kept_quantity(self, line_no: int) -> int:
        """Delivered units of the line the customer still has: neither returned nor exchanged."""
        return (
            self.delivered_quantity(line_no)
            - self.returned_quantity(line_no)
            - self.exchanged_quantity(line_no)
        )

    def _paid_for_next(self, line_no: int, quantity: int) -> Fen:
        """What the next `quantity` units to come back from the line (returned or exchanged)
        were paid: a difference of cumulative shares, so the parts of a line that comes back
        in parts add up to what was paid for it."""
        back = self.returned_quantity(line_no) + self.exchanged_quantity(line_no)
        return self.paid_for(line_no, back + quantity) - self.paid_for(line_no, back)

    def restock_of(self, return_id: str) -> tuple[tuple[UUID, int], ...]:
        """Where the return's units go back: (node, units), one per node."""
        return tuple((node_id, units) for _line_no, node_id, units in self.restocks[return_id])

    def _shelves_for(self, line_no: int, quantity: int) -> tuple[tuple[int, UUID, int], ...]:
        """Returned units of a line go back to the nodes that shipped it, the latest first,
        each taking back at most what it shipped of the line and has not taken back yet."""
        taken_back: dict[UUID, int] = {}
        for line, node_id, units in (r for rs in self.restocks.values() for r in rs):
            if line == line_no:
                taken_back[node_id] = taken_back.get(node_id, 0) + units
        shipped_from = dict.fromkeys(
            s.node_id for s in self.shipments.values() if line_no in s.quantities
        )
        shelves, remaining = [], quantity
        for node_id in reversed(shipped_from):
            room = self.shipped_quantity(line_no, node_id) - taken_back.get(node_id, 0)
            units = min(remaining, room)
            if units > 0:
                shelves.append((line_no, node_id, units))
                remaining -= units
        return tuple(shelves)

    @property
    def refundable_fen(self) -> Fen:
        """What the customer is owed back and has not yet received."""
        owed = self.paid_fen if self.cancelled else self.returned_fen
        return owed - self.refunded_fen

    @property
    def status(self) -> OrderStatus:
        if self.cancelled:
            return OrderStatus.CANCELLED
        if not self.is_paid:
            return OrderStatus.AWAITING_PAYMENT
        shipped = sum(self.shipped_quantity(line.line_no) for line in self.every_line)
        ordered = sum(line.quantity for line in self.every_line)
        if shipped == 0:
            return OrderStatus.PAID
        if shipped < ordered:
            return OrderStatus.PARTIALLY_SHIPPED
        if all(s.delivered for s in self.shipments.values()):
            return OrderStatus.DELIVERED
        return OrderStatus.SHIPPED

    # --- commands ------------------------------------------------------------

    def pay(
        self, payment: ProviderPayment, time_zone: str, occurred_at: datetime, actor: str
    ) -> None:
        """Records a payment the provider reported; it is in time if the provider took the
        money before the window closed. `time_zone` is the brand's: the sale counts on the
        day it was recorded there."""
        if payment.order_id != self.id:
            raise InvalidValue("the payment is for another order", order_id=str(payment.order_id))
        if self.cancelled:
            raise OrderNotPayable("the order was cancelled")
        if self.is_paid:
            raise OrderAlreadyPaid("the order is already paid", transaction_id=self.transaction_id)
        if payment.paid_at > self.payment_due_at:
            raise OrderNotPayable(
                "the payment window had closed", payment_due_at=self.payment_due_at.isoformat()
            )
        if payment.amount_fen != self.total_fen:
            raise WrongPaymentAmount(
                "the payment must equal the order total",
                total_fen=self.total_fen,
                amount_fen=payment.amount_fen,
            )
        self._record_paid(
            payment.amount_fen,
            None,
            payment.transaction_id,
            self.attribution,
            local_day(occurred_at, time_zone),
            require_utc(occurred_at),
            actor,
        )

    class Paid(Aggregate.Event):
        """Carries the attribution and the brand-local day the sale counts on, so sales
        read models need no other state, and the provider's transaction. A payment
        recorded before version 2 counts on its day in `TIME_ZONE_OF_OLD_EVENTS`; one
        recorded before version 3 was taken on the frontend's word, under its
        `payment_ref`, and has no `transaction_id`."""

        class_version = 3

        amount_fen: Fen
        payment_ref: str | None
        transaction_id: str | None
        attribution: Attribution | None
        sales_day: str
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sales_day"] = local_day(state["occurred_at"], TIME_ZONE_OF_OLD_EVENTS)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["transaction_id"] = None

    @event(Paid)
    def _record_paid(
        self,
        amount_fen: Fen,
        payment_ref: str | None,
        transaction_id: str | None,
        attribution: Attribution | None,
        sales_day: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.paid_fen = amount_fen
        self.payment_ref = payment_ref
        self.transaction_id = transaction_id
        self.paid_at = occurred_at
        self.sales_day = sales_day

    def cancel(self, reason: Sealed, occurred_at: datetime, actor: str) -> None:
        """`reason` is the caller's words, sealed under the member's key."""
        if self.cancelled:
            raise CannotCancel("the order is already cancelled")
        if self.shipments:
            raise CannotCancel("the order has shipped; return it instead")
        self._record_cancelled(reason, require_utc(occurred_at), actor)

    def expire_payment_window(self, as_of: datetime, actor: str) -> None:
        """Cancels an unpaid order whose payment window has passed."""
        if self.cancelled or self.is_paid:
            raise CannotCancel("only an unpaid, open order can expire")
        if require_utc(as_of) < self.payment_due_at:
            raise CannotCancel(
                "the payment window is still open", payment_due_at=self.payment_due_at.isoformat()
            )
        self._record_cancelled(PAYMENT_WINDOW_EXPIRED, as_of, actor)

    class Cancelled(Aggregate.Event):
        """The reason is sealed when a caller gave it, and the system's own words when the
        payment window expired (a caller's reason recorded before reasons were sealed is
        in the clear)."""

        reason: Sealed | str
        occurred_at: datetime
        actor: str

    @event(Cancelled)
    def _record_cancelled(self, reason: Sealed | str, occurred_at: datetime, actor: str) -> None:
        self.cancelled = True
        self.cancel_reason = reason

    def attribute(self, attribution: Attribution, occurred_at: datetime, actor: str) -> None:
        """Records whom the sale counts for; decided once, when the order is placed."""
        if self.attribution is not None:
            raise AttributionRefused("the order is already attributed; correct it instead")
        self._record_attributed(attribution, require_utc(occurred_at), actor)

    class Attributed(Aggregate.Event):
        attribution: Attribution
        occurred_at: datetime
        actor: str

    @event(Attributed)
    def _record_attributed(
        self, attribution: Attribution, occurred_at: datetime, actor: str
    ) -> None:
        self.attribution = attribution

    def correct_attribution(
        self, attribution: Attribution, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        """Support's correction: a new fact, carrying what moves from the old payee to the new."""
        if self.attribution is None:
            raise AttributionRefused("the order was never attributed")
        if attribution.payees == self.attribution.payees:
            raise AttributionRefused("the sale already counts for that guide and store")
        self._record_attribution_corrected(
            self.attribution,
            attribution,
            require_text("reason", reason, 500),
            self.paid_fen,
            self.refunded_fen,
            self.paid_at,
            self.sales_day,
            require_utc(occurred_at),
            actor,
        )

    class AttributionCorrected(Aggregate.Event):
        """Carries the day the sale counts on (None if unpaid), so the figures move on the
        day they were counted. One recorded before version 2 takes its payment's day in
        `TIME_ZONE_OF_OLD_EVENTS`."""

        class_version = 2

        previous: Attribution
        attribution: Attribution
        reason: str
        paid_fen: Fen
        refunded_fen: Fen
        paid_at: datetime | None
        sales_day: str | None
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sales_day"] = _old_sales_day(state["paid_at"])

    @event(AttributionCorrected)
    def _record_attribution_corrected(
        self,
        previous: Attribution,
        attribution: Attribution,
        reason: str,
        paid_fen: Fen,
        refunded_fen: Fen,
        paid_at: datetime | None,
        sales_day: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.attribution = attribution

    def allocate(self, decision: RoutingDecision, occurred_at: datetime, actor: str) -> None:
        """Records which nodes ship the lines no decision allocated yet (`demands`); their
        stock is reserved in the same save. The sale belongs to the branch it is attributed
        to when the placed lines are allocated: a node of another branch ships across
        branches. Replacements keep that branch."""
        unallocated = self._require_unallocated()
        if not decision.routable:
            raise InvalidValue("an allocation needs a routable decision")
        for line in unallocated:
            allocated = sum(a.quantity(line.line_no) for a in decision.allocations)
            if allocated != line.quantity:
                raise InvalidValue("the allocation does not cover the line", line_no=line.line_no)
        wanted = {line.line_no for line in unallocated}
        if any(line.line_no not in wanted for a in decision.allocations for line in a.lines):
            raise InvalidValue("the allocation names a line that is not waiting for one")
        selling_branch_id = self.attribution.branch_id if self.attribution else None
        if self.allocations:
            selling_branch_id = self.selling_branch_id
        self._record_allocated(decision, selling_branch_id, require_utc(occurred_at), actor)

    class Allocated(Aggregate.Event):
        decision: RoutingDecision
        selling_branch_id: UUID | None
        occurred_at: datetime
        actor: str

    @event(Allocated)
    def _record_allocated(
        self,
        decision: RoutingDecision,
        selling_branch_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if self.allocations:
            self.replacement_routings.append(decision)
            self.replacement_wait = None
        else:
            self.routing = decision
            self.selling_branch_id = selling_branch_id

    def wait_for_stock(self, decision: RoutingDecision, occurred_at: datetime, actor: str) -> None:
        """No node can ship the order's unallocated lines now: it joins the unroutable queue
        with the reason."""
        self._require_unallocated()
        if decision.routable:
            raise InvalidValue("a routable decision is an allocation")
        if self.awaiting_stock:
            raise RoutingRefused("the order already waits for stock")
        self._record_routing_failed(self.brand_id, decision, require_utc(occurred_at), actor)

    class RoutingFailed(Aggregate.Event):
        brand_id: UUID
        decision: RoutingDecision
        occurred_at: datetime
        actor: str

    @event(RoutingFailed)
    def _record_routing_failed(
        self, brand_id: UUID, decision: RoutingDecision, occurred_at: datetime, actor: str
    ) -> None:
        if self.allocations:
            self.replacement_wait = decision
        else:
            self.routing = decision

    def _require_unallocated(self) -> tuple[OrderLine, ...]:
        """The lines waiting for an allocation; refused if there are none."""
        if self.cancelled:
            raise RoutingRefused("the order was cancelled")
        unallocated = self._unallocated()
        if not unallocated:
            raise RoutingRefused("the order is already allocated")
        return unallocated

    def ship(
        self,
        shipment_id: str,
        node_id: UUID,
        quantities: Mapping[int, int],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Dispatches some quantity of some lines as one parcel."""
        if self.status not in {OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED}:
            raise ShipmentRefused(f"an order that is {self.status} cannot ship")
        shipment_id = require_text("shipment_id", shipment_id, 64)
        if shipment_id in self.shipments:
            raise ShipmentRefused("that shipment id is already used", shipment_id=shipment_id)
        if not quantities:
            raise ShipmentRefused("a shipment carries at least one line")
        allocated_nodes = {a.node_id for a in (*self.allocations, *self.replacement_allocations)}
        if node_id not in allocated_nodes:
            raise ShipmentRefused("the order is not allocated to that node", node_id=str(node_id))
        for line_no, quantity in quantities.items():
            require_positive("quantity", quantity)
            self.line(line_no)
            allocated = self.allocated_quantity(line_no, node_id)
            unshipped = allocated - self.shipped_quantity(line_no, node_id)
            if quantity > unshipped:
                raise ShipmentRefused(
                    "cannot ship more than the node has left to ship of the line",
                    line_no=line_no,
                    unshipped=unshipped,
                    quantity=quantity,
                )
        self._record_shipped(
            shipment_id, node_id, dict(quantities), require_utc(occurred_at), actor
        )

    class Shipped(Aggregate.Event):
        shipment_id: str
        node_id: UUID
        quantities: dict[int, int]
        occurred_at: datetime
        actor: str

    @event(Shipped)
    def _record_shipped(
        self,
        shipment_id: str,
        node_id: UUID,
        quantities: dict[int, int],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        # JSON turns int keys into strings: normalise on the way back in.
        lines = {int(line_no): quantity for line_no, quantity in quantities.items()}
        self.shipments[shipment_id] = Shipment(shipment_id, node_id, lines)

    def deliver(self, shipment_id: str, occurred_at: datetime, actor: str) -> None:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise DeliveryRefused("no such shipment", shipment_id=shipment_id)
        if shipment.delivered:
            raise DeliveryRefused("the shipment is already delivered", shipment_id=shipment_id)
        self._record_delivered(shipment_id, require_utc(occurred_at), actor)

    class Delivered(Aggregate.Event):
        shipment_id: str
        occurred_at: datetime
        actor: str

    @event(Delivered)
    def _record_delivered(self, shipment_id: str, occurred_at: datetime, actor: str) -> None:
        shipment = self.shipments[shipment_id]
        self.shipments[shipment_id] = Shipment(
            shipment.shipment_id, shipment.node_id, shipment.quantities, occurred_at
        )

    def return_items(
        self,
        return_id: str,
        line_no: int,
        quantity: int,
        reason: Sealed,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Takes back some delivered units of one line (退货); `reason` is the customer's
        words, sealed under the member's key."""
        return_id = require_text("return_id", return_id, 64)
        if return_id in self.return_ids:
            raise ReturnRefused("that return id is already used", return_id=return_id)
        require_positive("quantity", quantity)
        returnable = self.kept_quantity(line_no)
        if quantity > returnable:
            raise ReturnRefused(
                "cannot return more than was delivered and not yet returned or exchanged",
                line_no=line_no,
                returnable=returnable,
                quantity=quantity,
            )
        self._record_returned(
            return_id,
            line_no,
            quantity,
            reason,
            require_utc(occurred_at),
            actor,
        )

    class ItemsReturned(Aggregate.Event):
        """The reason is sealed (one recorded before reasons were sealed is in the clear)."""

        return_id: str
        line_no: int
        quantity: int
        reason: Sealed | str
        occurred_at: datetime
        actor: str

    @event(ItemsReturned)
    def _record_returned(
        self,
        return_id: str,
        line_no: int,
        quantity: int,
        reason: Sealed | str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.return_ids.add(return_id)
        self.restocks[return_id] = self._shelves_for(line_no, quantity)
        self.returned_fen += self._paid_for_next(line_no, quantity)
        self.returned[line_no] = self.returned.get(line_no, 0) + quantity

    def exchange(
        self,
        exchange_id: str,
        line_no: int,
        quantity: int,
        replacement: ReplacementSku,
        received_at_node_id: UUID,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Swaps delivered units of one line for as many of another SKU of the same price
        (换货), with no new payment. Same price means the line's unit price is the
        replacement's price in force now; any other is refused (a return and a new order
        are the way). The units come back at `received_at_node_id`; the replacement is a
        new line at the line's unit price, carrying what was paid for the units it replaces
        (discounts included), and is routed, shipped and delivered like any other."""
        exchange_id = require_text("exchange_id", exchange_id, 64)
        if exchange_id in self.exchanges:
            raise ExchangeRefused("that exchange id is already used", exchange_id=exchange_id)
        if len(self.exchanges) >= MAX_EXCHANGES_PER_ORDER:
            raise ExchangeRefused(f"an order takes at most {MAX_EXCHANGES_PER_ORDER} exchanges")
        require_positive("quantity", quantity)
        line = self.line(line_no)
        if replacement.sku_id == line.sku_id:
            raise ExchangeRefused("an exchange is for another SKU", line_no=line_no)
        exchangeable = self.kept_quantity(line_no)
        if quantity > exchangeable:
            raise ExchangeRefused(
                "cannot exchange more than was delivered and not yet returned or exchanged",
                line_no=line_no,
                exchangeable=exchangeable,
                quantity=quantity,
            )
        if replacement.price_in_force_fen != line.unit_price_fen:
            raise ExchangePriceDiffers(
                "the replacement's price differs from the line's: return it and place a new order",
                line_no=line_no,
                unit_price_fen=line.unit_price_fen,
                price_in_force_fen=replacement.price_in_force_fen,
            )
        next_line_no = max(every.line_no for every in self.every_line) + 1
        self._record_exchanged(
            exchange_id,
            line_no,
            quantity,
            received_at_node_id,
            OrderLine(next_line_no, replacement.sku_id, quantity, line.unit_price_fen),
            self._paid_for_next(line_no, quantity),
            require_utc(occurred_at),
            actor,
        )

    class ItemsExchanged(Aggregate.Event):
        """`paid_fen`: what was paid for the units that came back, which the replacement
        carries from now on."""

        exchange_id: str
        line_no: int
        quantity: int
        received_at_node_id: UUID
        replacement: OrderLine
        paid_fen: Fen
        occurred_at: datetime
        actor: str

    @event(ItemsExchanged)
    def _record_exchanged(
        self,
        exchange_id: str,
        line_no: int,
        quantity: int,
        received_at_node_id: UUID,
        replacement: OrderLine,
        paid_fen: Fen,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.exchanges[exchange_id] = Exchange(
            exchange_id, line_no, quantity, received_at_node_id, replacement
        )
        self._paid_per_line[replacement.line_no] = paid_fen

    def refund(self, refund_id: str, amount_fen: Fen, occurred_at: datetime, actor: str) -> None:
        """Pays money back for a cancellation after payment or for returned units."""
        refund_id = require_text("refund_id", refund_id, 64)
        if refund_id in self.refund_ids:
            raise RefundRefused("that refund id is already used", refund_id=refund_id)
        require_positive("amount_fen", amount_fen)
        if amount_fen > self.refundable_fen:
            raise RefundRefused(
                "cannot refund more than is owed back",
                refundable_fen=self.refundable_fen,
                amount_fen=amount_fen,
            )
        self._record_refunded(
            refund_id,
            amount_fen,
            self.attribution,
            self.paid_at,
            self.sales_day,
            require_utc(occurred_at),
            actor,
        )

    class Refunded(Aggregate.Event):
        """Carries the day the refunded sale counts on (its payment's; None if unpaid), so
        the refund comes off that day. One recorded before version 2 takes its payment's
        day in `TIME_ZONE_OF_OLD_EVENTS`."""

        class_version = 2

        refund_id: str
        amount_fen: Fen
        attribution: Attribution | None
        paid_at: datetime | None
        sales_day: str | None
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sales_day"] = _old_sales_day(state["paid_at"])

    @event(Refunded)
    def _record_refunded(
        self,
        refund_id: str,
        amount_fen: Fen,
        attribution: Attribution | None,
        paid_at: datetime | None,
        sales_day: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.refund_ids.add(refund_id)
        self.refunded_fen += amount_fen


def _require_sealed(delivery: DeliveryAddress, evidence: AttributionEvidence) -> None:
    """An order records its member's personal data sealed: the exact point with only its
    area in the clear, and a note naming a guide."""
    if delivery.exact is None or delivery.location != delivery.area:
        raise InvalidValue("the delivery point must be sealed, with only its area in the clear")
    if isinstance(evidence.guide_note, str):
        raise InvalidValue("the note naming a guide must be sealed")


def _old_sales_day(paid_at: datetime | None) -> str | None:
    """The day an event recorded before it carried one counts on."""
    return None if paid_at is None else local_day(paid_at, TIME_ZONE_OF_OLD_EVENTS)
