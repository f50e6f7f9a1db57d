"""Any sequence of order and settlement commands keeps the books balanced: the trial
balance is zero, every statement's lines sum to its total, no payee is reversed more
than they earned, and what each store holds for a guide is its held lines not handed
back yet."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.views import HELD_LINES, HeldLines
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import Account, Bucket
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.eventstore.commands import Command
from guideledger.kernel.errors import DomainError
from guideledger.kernel.periods import period_of
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.world import FRONTEND, PRICES, SHANGHAI, build_world, pay, receive

SUPPORT = Command("support")
FINANCE = Command("finance")


class Books(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(datetime(2026, 11, 2, 2, tzinfo=UTC))
        self.ledger = bootstrap(Settings(persistence=Persistence.MEMORY), self.clock)
        self.world = build_world(self.ledger, stocked=False)
        for sku_id in self.world.sku_ids:
            receive(self.ledger, self.world.store_id, sku_id, 10_000)
        self.counter = 0

    def teardown(self) -> None:
        self.ledger.close()

    def next_id(self) -> str:
        self.counter += 1
        return f"x{self.counter}"

    @rule(
        target=orders,
        first=st.integers(1, 3),
        second=st.integers(0, 2),
        via_store=st.booleans(),
        delivered=st.booleans(),
    )
    def place_and_pay(self, first: int, second: int, via_store: bool, delivered: bool) -> UUID:
        from guideledger.orders.application.app import DeliveryRequest, LineRequest

        quantities = (first, second) if second else (first,)
        evidence = (
            AttributionEvidence(
                Channel.STORE_ACCOUNT, store_id=self.world.store_id, guide_note="Wang Fang"
            )
            if via_store
            else AttributionEvidence(Channel.GUIDE_QR, guide_id=self.world.guide_id)
        )
        lines = [
            LineRequest(s, q, p)
            for s, q, p in zip(self.world.sku_ids, quantities, PRICES, strict=False)
        ]
        order_id = self.ledger.orders.place_order(
            FRONTEND,
            brand_id=self.world.brand_id,
            member_id=self.world.member_id,
            lines=lines,
            delivery=DeliveryRequest("x", SHANGHAI),
            evidence=evidence,
        ).id
        total = sum(q * p for q, p in zip(quantities, PRICES, strict=False))
        pay(self.ledger, order_id, total)
        if delivered:
            self.ship_and_deliver(order_id)
        return order_id

    @rule(order_id=orders)
    def ship_and_deliver(self, order_id: UUID) -> None:
        order = self.ledger.orders.get_order(order_id)
        for allocation in order.allocations:
            quantities = {line.line_no: line.quantity for line in allocation.lines}
            with contextlib.suppress(DomainError):
                parcel = self.next_id()
                self.ledger.orders.ship(FRONTEND, order_id, parcel, allocation.node_id, quantities)
                self.ledger.orders.deliver(FRONTEND, order_id, parcel)

    @rule(order_id=orders, line_no=st.integers(1, 2), quantity=st.integers(1, 3))
    def return_some(self, order_id: UUID, line_no: int, quantity: int) -> None:
        with contextlib.suppress(DomainError):
            self.ledger.orders.return_items(
                SUPPORT,
                order_id,
                return_id=self.next_id(),
                line_no=line_no,
                quantity=quantity,
                reason="size",
            )

    @rule(order_id=orders)
    def cancel(self, order_id: UUID) -> None:
        with contextlib.suppress(DomainError):
            self.ledger.orders.cancel(SUPPORT, order_id, "changed mind")

    @rule()
    def a_week_passes(self) -> None:
        self.time_passes_and_commissions_mature(8)

    @rule(days=st.integers(1, 12))
    def time_passes_and_commissions_mature(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))
        self.ledger.projections.process_all()
        self.ledger.commissions.mature_due()

    @rule()
    def close_last_month(self) -> None:
        now = self.clock.now()
        previous = period_of(now.replace(day=1) - timedelta(days=1), "Asia/Shanghai", "monthly")
        self.ledger.projections.process_all()
        with contextlib.suppress(DomainError):
            self.ledger.commissions.close_period(FINANCE, self.world.brand_id, previous)

    @invariant()
    def trial_balance_is_zero(self) -> None:
        self.ledger.projections.process_all()
        total, _accounts = self.ledger.commissions.trial_balance(self.world.brand_id)
        assert total == 0

    @invariant()
    def statements_add_up(self) -> None:
        commissions = self.ledger.commissions
        for aggregate_id in self._ids(SettlementPeriod):
            period = commissions.load(SettlementPeriod, aggregate_id)
            lines = commissions.statement_lines(period)
            in_total = sum(line.amount_fen for line in lines if line.in_total)
            assert in_total == period.running_total_fen
            if period.closed:
                assert period.total_fen == period.running_total_fen

    @invariant()
    def stores_hold_what_their_held_lines_say(self) -> None:
        commissions = self.ledger.commissions
        _total, accounts = commissions.trial_balance(self.world.brand_id)
        commissions.read_models.catch_up(HeldLines)
        lined: dict[str, int] = {}
        for row in commissions.read_models.select(HELD_LINES, {}):
            lined[row["account"]] = lined.get(row["account"], 0) + row["amount_fen"]
        held = {
            account: -balance
            for account, balance in accounts.items()
            if Account.parse(account).bucket is Bucket.HELD and balance
        }
        assert {account: fen for account, fen in lined.items() if fen} == held

    @invariant()
    def nobody_gives_back_more_than_they_earned(self) -> None:
        for aggregate_id in self._ids(CommissionAccrual):
            accrual = self.ledger.commissions.load(CommissionAccrual, aggregate_id)
            for key, amount in accrual.accrued.items():
                assert 0 <= accrual.reversed[key] <= amount

    def _ids(self, cls: type) -> list[UUID]:
        recorder = self.ledger.commissions.recorder
        topic = f"{cls.__module__}:{cls.__qualname__}"
        found = []
        for notification in recorder.select_notifications(start=1, limit=100_000):
            if notification.topic.startswith(topic + "."):
                found.append(notification.originator_id)
        return list(dict.fromkeys(found))  # type: ignore[arg-type]


Books.TestCase.settings = settings(stateful_step_count=30, max_examples=40, deadline=None)
TestBooks = Books.TestCase
