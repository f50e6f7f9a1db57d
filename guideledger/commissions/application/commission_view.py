"""The commission view: what each payee earns on each order under one set of rules.

The ledger books each order once, under the rules in force when it was paid,
and never rewrites history. This read model answers finance's other question:
what would every order earn under these rules? Version 1 follows the ledger
(the rules in force at payment); a rebuild under another published version
builds a new version beside it, from event zero, for a diff before promotion.

Each change is the difference between the order's net commission after the
event and before it, computed from the order as of each version (history
never changes, so the fold is deterministic and safe to repeat).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from guideledger.attribution.domain.rules import Attribution
from guideledger.commissions.domain.ledger import reversal_targets
from guideledger.commissions.domain.rules import CommissionPolicy, Payee
from guideledger.orders.domain.order import Order
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, on

NAME = "commission_view"

Earned = Callable[[Order, Attribution, CommissionPolicy], dict[Payee, int]]
OrderAt = Callable[[UUID, int], Order]
RulesFor = Callable[[UUID, datetime], CommissionPolicy]
PeriodOf = Callable[[UUID, datetime], str]
OrderMove = Order.Paid | Order.ItemsReturned | Order.Cancelled | Order.AttributionCorrected


def commission_view_table(version: int) -> Table:
    return Table(
        name=f"{NAME}_v{version}",
        key=("order_id", "payee"),
        columns={
            "order_id": "uuid",
            "payee": "text",
            "brand_id": "uuid",
            "period": "text",  # the period the order was paid in
            "amount_fen": "int",
        },
        indexes=(("brand_id", "period"),),
    )


def net_commission(order: Order, policy: CommissionPolicy, earned: Earned) -> dict[str, int]:
    """Each payee's commission on the order as it stands: nothing unless paid and not
    cancelled; returns reverse in proportion, split by largest remainder as the ledger does."""
    if order.paid_at is None or order.attribution is None or order.cancelled:
        return {}
    shares = {p.key: a for p, a in earned(order, order.attribution, policy).items()}
    given_back = reversal_targets(shares, order.paid_fen, order.returned_fen)
    return {payee: amount - given_back[payee] for payee, amount in shares.items()}


class CommissionView(Projection):
    application = "orders"

    def __init__(
        self,
        version: int,
        rules_version: int | None,
        rules_for: RulesFor,
        order_at: OrderAt,
        earned: Earned,
        period_of: PeriodOf,
    ) -> None:
        self.version = version
        self.rules_version = rules_version  # None: the rules in force at payment
        self.name = f"{NAME}_v{version}"  # type: ignore[misc]
        self.table = commission_view_table(version)
        self.tables = (self.table,)  # type: ignore[misc]
        self.rules_for = rules_for
        self.order_at = order_at
        self.earned = earned
        self.period_of = period_of

    @on(Order.Paid, Order.ItemsReturned, Order.Cancelled, Order.AttributionCorrected)
    def moved(self, event: OrderMove) -> list[RowChange]:
        """What the event moved: the order before it (one read), then the event applied."""
        order: Order = self.order_at(event.originator_id, event.originator_version - 1)
        policy, was = None, {}
        if order.paid_at is not None:  # paid before this event: the rules stay the same
            policy = self.rules_for(order.brand_id, order.paid_at)
            was = net_commission(order, policy, self.earned)
        event.mutate(order)
        if order.paid_at is None:
            return []
        policy = policy or self.rules_for(order.brand_id, order.paid_at)
        now = net_commission(order, policy, self.earned)
        fixed = {
            "brand_id": order.brand_id,
            "period": self.period_of(order.brand_id, order.paid_at),
        }
        return [
            Increment(self.table, (order.id, payee), {"amount_fen": delta}, fixed)
            for payee in sorted(now.keys() | was.keys())
            if (delta := now.get(payee, 0) - was.get(payee, 0))
        ]


@dataclass(frozen=True)
class DiffLine:
    """One payee's period under the serving rules and the candidate's."""

    payee: str
    period: str
    old_fen: int
    new_fen: int
    orders_affected: int
    correction_period: str  # the period itself if open; else the next open one

    @property
    def difference_fen(self) -> int:
        return self.new_fen - self.old_fen


def diff(
    old_rows: Iterable[dict[str, Any]],
    new_rows: Iterable[dict[str, Any]],
    open_period_from: Callable[[str], str],
) -> list[DiffLine]:
    """Per payee and period where the two versions differ: old, new and the orders that
    moved. A closed period never changes, so its difference is due in the next open one."""
    old = {(r["order_id"], r["payee"]): r for r in old_rows}
    new = {(r["order_id"], r["payee"]): r for r in new_rows}
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for key in old.keys() | new.keys():
        row = new.get(key) or old[key]
        before = old[key]["amount_fen"] if key in old else 0
        after = new[key]["amount_fen"] if key in new else 0
        total = totals[(row["payee"], row["period"])]
        total[0] += before
        total[1] += after
        total[2] += before != after
    return [
        DiffLine(payee, period, before, after, moved, open_period_from(period))
        for (payee, period), (before, after, moved) in sorted(totals.items())
        if moved
    ]
