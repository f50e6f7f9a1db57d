"""A month of orders written in bulk, for the settlement audit at a million orders.

Placing a million orders through the commands takes a day (each is its own
transaction, with routing reads and read-model catch-ups). This writer makes the
same aggregates with the same domain methods the commands use — the order placed,
attributed, allocated, paid, shipped, delivered and sometimes returned; its
commission accrued from its facts under the brand's rules (`order_facts`),
matured by the daily run once its return window has passed, and every
settleable change a line on the payee's statement — and writes a thousand orders'
events per transaction (COPY on PostgreSQL). October is then closed as
`close_period` closes it, without its read-model catch-ups: every statement of the
month closed, no handbacks (no store-account sales) and no top-guide bonus.

What it leaves out: stock positions are not reserved or moved (each order ships
from its branch's warehouse as if stock were endless), members are not bound to
guides, and no read model is kept up to date until a command catches it up. The
audit reads none of that.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from bench.bulk_import import import_events
from guideledger.api.demo import DemoWorld, load_demo
from guideledger.attribution.domain.rules import (
    AttributionEvidence,
    AttributionInputs,
    Channel,
    attribute,
)
from guideledger.commissions.domain.ledger import CommissionAccrual, StatementLine
from guideledger.commissions.domain.rules import Payee
from guideledger.commissions.domain.settlement import (
    BrandPeriodClose,
    SettlementPeriod,
    accrual_lines,
)
from guideledger.composition import Ledger
from guideledger.eventstore.application import LedgerApplication
from guideledger.fulfilment.domain.routing import AllocatedLine, Allocation, RoutingDecision
from guideledger.kernel.values import GeoPoint
from guideledger.orders.application.personal import seal_delivery
from guideledger.orders.domain.lines import DeliveryAddress, OrderLine
from guideledger.orders.domain.order import Order
from guideledger.orders.domain.payments import ProviderPayment, ProviderTransaction
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.guides import GuideSnapshot
from guideledger.organisation.domain.units import Node

ACTOR = "bench:bulk-month"
ORDERS_PER_TRANSACTION = 1_000
DAILY_RUN_UTC_HOUR = 18  # the maturing job runs at 02:00 in Asia/Shanghai
CHANNELS = [Channel.GUIDE_QR, Channel.LIVE_STREAM_FORWARD, Channel.DIRECT]
CHANNEL_WEIGHTS = [60, 30, 10]
RETURNED_SHARE = 0.07


@dataclass
class MonthWriter:
    """Writes orders and their commissions straight to the two applications' tables."""

    ledger: Ledger
    world: DemoWorld
    settled_at: datetime  # the daily run matures nothing due after this
    rng: random.Random
    statements: dict[UUID, SettlementPeriod] = field(default_factory=dict)
    events_written: int = 0
    _guides: dict[UUID, GuideSnapshot] = field(default_factory=dict)
    _addresses: dict[UUID, DeliveryAddress] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.brand = self.ledger.organisation.load(Brand, self.world.brand_id)
        self.attribution_policy = self.ledger.orders.attributor.policy_in_force(
            self.world.brand_id, self.settled_at
        )
        self.rules = self.ledger.commissions.policy_in_force(self.world.brand_id, self.settled_at)
        self.warehouse_of_branch = self._warehouses_by_branch()

    def write(self, orders_and_times: Iterable[tuple[int, datetime]]) -> None:
        """Writes the orders, a transaction per `ORDERS_PER_TRANSACTION`."""
        order_batch: list[Aggregate] = []
        commission_batch: list[Aggregate] = []
        for n, placed_at in orders_and_times:
            order, transaction, accrual = self._order(n, placed_at)
            order_batch += [order, transaction]
            if accrual is not None:
                commission_batch.append(accrual)
            if len(order_batch) == 2 * ORDERS_PER_TRANSACTION:  # each with its transaction
                self._save(order_batch, commission_batch)
                order_batch, commission_batch = [], []
        self._save(order_batch, commission_batch)

    def _save(self, orders: list[Aggregate], commissions: list[Aggregate]) -> None:
        self.events_written += _insert(self.ledger.orders, orders)
        self.events_written += _insert(
            self.ledger.commissions, [*commissions, *self.statements.values()]
        )

    # --- one order's month --------------------------------------------------------------

    def _order(
        self, n: int, placed_at: datetime
    ) -> tuple[Order, ProviderTransaction, CommissionAccrual | None]:
        rng = self.rng
        guide_id, store_id = rng.choice(self.world.guides)
        member_id = rng.choice(self.world.members)
        channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS, k=1)[0]
        linked = channel is not Channel.DIRECT
        evidence = AttributionEvidence(channel, guide_id=guide_id if linked else None)
        picked = rng.sample(self.world.skus, k=rng.choice([1, 1, 2, 2, 3]))
        lines = [
            OrderLine(no, sku_id, rng.choice([1, 1, 1, 2, 3]), price)
            for no, (sku_id, price) in enumerate(picked, start=1)
        ]
        order = Order.place(
            order_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            brand_id=self.world.brand_id,
            member_id=member_id,
            lines=lines,
            delivery=self._address(member_id, store_id),
            evidence=evidence,
            payment_window=self.ledger.orders.payment_window,
            occurred_at=placed_at,
            actor=ACTOR,
        )
        inputs = AttributionInputs(link_guide=self._guide(guide_id) if linked else None)
        attribution = attribute(self.world.brand_id, evidence, inputs, self.attribution_policy)
        order.attribute(attribution, placed_at, ACTOR)
        order.allocate(self._decision(order, store_id), placed_at, ACTOR)
        paid_at = placed_at + timedelta(minutes=rng.randint(1, 20))
        payment = ProviderPayment(f"WX-BULK-{n:010d}", order.id, order.total_fen, paid_at)
        order.pay(payment, self.brand.time_zone, paid_at, ACTOR)
        transaction = ProviderTransaction.record(payment, order.version, paid_at, ACTOR)
        accrual = CommissionAccrual.accrue(
            order_id=order.id,
            facts=self.ledger.commissions.order_facts(order),
            policy=self.rules,
            source_event=f"{order.id}:{order.version}",
            occurred_at=paid_at,
        )
        self._ship_and_deliver(order, accrual, n, paid_at)
        return order, transaction, accrual

    def _ship_and_deliver(
        self, order: Order, accrual: CommissionAccrual, n: int, paid_at: datetime
    ) -> None:
        allocation = order.allocations[0]
        parcel = f"SHP-BULK-{n:08d}"
        quantities = {line.line_no: line.quantity for line in allocation.lines}
        shipped_at = paid_at + timedelta(hours=self.rng.randint(4, 30))
        order.ship(parcel, allocation.node_id, quantities, shipped_at, ACTOR)
        delivered_at = shipped_at + timedelta(hours=self.rng.randint(20, 60))
        order.deliver(parcel, delivered_at, ACTOR)
        accrual.record_delivery(delivered_at, f"{order.id}:{order.version}")
        if self.rng.random() < RETURNED_SHARE:
            self._return_one(order, accrual, n, delivered_at + timedelta(days=2))
        assert accrual.due_at is not None
        matured_at = _next_daily_run(accrual.due_at)
        if matured_at <= self.settled_at:
            posting_id = f"maturity:{accrual.id}:{accrual.version + 1}"
            posting = accrual.mature(self.brand.period_of(matured_at), matured_at, posting_id)
            if posting is not None:
                for payee, line in accrual_lines(accrual, posting):
                    self._add_line(payee, self.brand.period_of(matured_at), line)

    def _return_one(
        self, order: Order, accrual: CommissionAccrual, n: int, returned_at: datetime
    ) -> None:
        """One unit of the first line comes back and is refunded, inside the return window."""
        line = order.line(1)
        reason = self.ledger.organisation.vault.seal(order.member_id, "尺码不合适 size")
        order.return_items(f"RET-BULK-{n:08d}", 1, 1, reason, returned_at, ACTOR)
        returned_event = f"{order.id}:{order.version}"
        order.refund(f"REF-BULK-{n:08d}", line.unit_price_fen, returned_at, ACTOR)
        accrual.reverse(
            returned_fen=order.returned_fen,
            period=self.brand.period_of(returned_at),
            at=returned_at,
            posting_id=f"reversal:{accrual.id}:{accrual.version + 1}",
            source_event=returned_event,
            clawback=False,
        )

    def close(self, period: str, at: datetime) -> None:
        """Closes the brand's period and each payee's statement of it."""
        close = BrandPeriodClose(self.world.brand_id, period)
        close.hand_back((), at)
        close.pay_bonuses({}, self.rules, at)
        closing = [s for s in self.statements.values() if s.period == period]
        for statement in closing:
            statement.close(at, f"settlement:{statement.id}")
        close.finish(at)
        _insert(self.ledger.commissions, [close, *closing])

    def _add_line(self, payee: Payee, period: str, line: StatementLine) -> None:
        statement_id = SettlementPeriod.create_id(payee, period)
        statement = self.statements.get(statement_id)
        if statement is None:
            statement = SettlementPeriod(self.world.brand_id, payee, period)
            self.statements[statement_id] = statement
        statement.add_line(line)

    # --- what the commands would have looked up -------------------------------------------

    def _guide(self, guide_id: UUID) -> GuideSnapshot:
        if guide_id not in self._guides:
            self._guides[guide_id] = self.ledger.organisation.guide_snapshot(guide_id)
        return self._guides[guide_id]

    def _address(self, member_id: UUID, store_id: UUID) -> DeliveryAddress:
        if member_id not in self._addresses:
            near = self.world.store_locations[store_id]
            vault = self.ledger.organisation.vault
            location = GeoPoint(near.latitude + 0.05, near.longitude + 0.05)
            self._addresses[member_id] = seal_delivery(
                vault, member_id, f"收货地址 Address {member_id}", location
            )
        return self._addresses[member_id]

    def _decision(self, order: Order, store_id: UUID) -> RoutingDecision:
        """Everything from the warehouse of the selling store's branch (or the first one)."""
        store_branch = self.ledger.organisation.store_snapshot(store_id).branch_id
        warehouse_id, branch_id = self.warehouse_of_branch.get(
            store_branch, next(iter(self.warehouse_of_branch.values()))
        )
        lines = tuple(
            AllocatedLine(line.line_no, line.sku_id, line.quantity) for line in order.lines
        )
        allocation = Allocation(warehouse_id, "warehouse", branch_id, 0.0, 0, lines)
        return RoutingDecision(0, (allocation,), (), "bulk month: the branch's warehouse ships")

    def _warehouses_by_branch(self) -> dict[UUID, tuple[UUID, UUID]]:
        found = {}
        for warehouse_id in self.world.warehouses:
            branch_id = self.ledger.organisation.fact(Node, warehouse_id, "node_id").branch_id
            found[branch_id] = (warehouse_id, branch_id)
        return found


def _next_daily_run(after: datetime) -> datetime:
    run = after.astimezone(UTC).replace(hour=DAILY_RUN_UTC_HOUR, minute=0, second=0, microsecond=0)
    return run if run >= after else run + timedelta(days=1)


def _insert(application: LedgerApplication, aggregates: list[Aggregate]) -> int:
    """The aggregates' new events in one transaction; returns how many."""
    events = [e for aggregate in aggregates for e in aggregate.collect_events()]
    import_events(application, events)
    return len(events)


def write_month(
    ledger: Ledger,
    set_clock: Callable[[datetime], object],
    orders: int,
    month_start: datetime,
    settled_at: datetime,
    members: int = 1_500,
    progress: Callable[[int], None] = lambda _done: None,
) -> dict[str, Any]:
    """The demo organisation, `orders` orders over the 31 days from `month_start`, and
    the month closed at `settled_at`. Returns what was written and how long it took."""
    set_clock(month_start)
    world = load_demo(ledger, set_clock, orders=0, members=members)
    writer = MonthWriter(ledger, world, settled_at, random.Random(orders))
    slot = timedelta(days=31) / max(orders, 1)
    started = time.perf_counter()
    times = ((n, month_start + slot * n) for n in range(orders))
    writer.write(_reporting(times, progress))
    written = time.perf_counter() - started
    set_clock(settled_at)
    writer.close(writer.brand.period_of(month_start), settled_at)
    return {
        "orders": orders,
        "statements": len(writer.statements),
        "events": writer.events_written,
        "write_seconds": written,
        "close_seconds": time.perf_counter() - started - written,
    }


def _reporting(
    items: Iterable[tuple[int, datetime]], progress: Callable[[int], None]
) -> Iterable[tuple[int, datetime]]:
    for n, item in enumerate(items, start=1):
        yield item
        if n % ORDERS_PER_TRANSACTION == 0:
            progress(n)
