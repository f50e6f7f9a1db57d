"""The commission view: what each payee earns on each order.

The ledger books each order under the rules in force when it was paid and never
rewrites history. The serving view follows it: the amounts it recorded, net of returns,
with any correction it booked when a brand's rules changed. A brand's candidate answers
finance's other question before a change is booked: what would every order of the brand
earn under the rules as they stand after the change (`RuleChange`: the versions published
and a proposal), each order under the version in force when it was paid? It is built from
event zero beside the serving view; the diff between the two is what promoting it books.

It folds the commission log and reads nothing else. Each accrual's events carry the
`OrderFacts` it was computed from, so a candidate computes the accrual again with the
ledger's own functions (`accrual_shares`, `net_of_returns`): a return or cancel as one
reversal of everything returned so far, as the ledger computes one. An accrual recorded
before its facts were, or before they named when the order was paid, has nothing to be
computed from: a candidate shows it as recorded (a re-accrual of one recorded without
facts shows in the period it was booked in, not the one the order was paid in, which its
events do not name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from guideledger.commissions.domain.earnings import OrderFacts, accrual_shares, net_of_returns
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rule_change import RuleChange
from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert, on

# Named apart from the view that followed the orders' log (tables `commission_view_v<N>`,
# droppable): its stored positions count another log, so this view builds from the start.
# The serving view keeps the name it had as the first of the versions that once served
# every brand at a time.
SERVING = "accrued_commission_view_v1"
CANDIDATE = "commission_candidate"  # then the brand's id and the candidate's number

Accrual = CommissionAccrual.Accrued | CommissionAccrual.Reaccrued
Where = tuple[UUID, UUID, str]  # the rows' order, brand and period


def commission_view_table(name: str, indexed: bool = True) -> Table:
    return Table(
        name=name,
        key=("order_id", "payee"),
        columns={
            "order_id": "uuid",
            "payee": "text",
            "brand_id": "uuid",
            "period": "text",  # the period the order was paid in
            "amount_fen": "int",
        },
        indexes=(("brand_id", "period"),) if indexed else (),
    )


class CommissionView(Projection):
    application = "commissions"

    def __init__(self, name: str = SERVING, change: RuleChange | None = None) -> None:
        """`change`: a brand's rules as they would stand, for a candidate of that brand
        alone; None: the serving view, of every brand, which follows the ledger."""
        self.name = name  # type: ignore[misc]
        self.table = commission_view_table(name, indexed=change is None)
        self.tables = (self.table,)  # type: ignore[misc]
        self.change = change

    @on(CommissionAccrual.Accrued, CommissionAccrual.Reaccrued)
    def accrued(self, event: Accrual) -> list[RowChange]:
        """The payees' accrual is added to what they have on the order (nothing, until a
        correction re-accrues it after reversing everything)."""
        policy = self._rules_for(event.facts)
        if event.facts is not None and policy is not None:
            amounts = accrual_shares(event.facts, policy)
            return self._add(_facts_rows(event.facts), {p.key: a for p, a in amounts.items()})
        recorded = {share.payee.key: share.amount_fen for share in event.shares}
        return self._add(_recorded_rows(event), recorded)

    @on(CommissionAccrual.Reversed)
    def reversed(self, event: CommissionAccrual.Reversed) -> list[RowChange]:
        """The payees keep what the accrual leaves them once everything returned so far
        is reversed."""
        policy = self._rules_for(event.facts)
        if event.facts is None or policy is None:
            given_back = {payee: -amount for payee, amount in event.deltas.items()}
            return self._add(_recorded_rows(event), given_back)
        facts = event.facts
        accrued = {p.key: a for p, a in accrual_shares(facts, policy).items() if a}
        kept = net_of_returns(accrued, facts.paid_fen, event.returned_fen)
        order_id, brand_id, period = _facts_rows(facts)
        return [
            Upsert(
                self.table,
                (order_id, payee),
                {"brand_id": brand_id, "period": period, "amount_fen": amount},
            )
            for payee, amount in sorted(kept.items())
        ]

    @on(CommissionAccrual.Corrected)
    def corrected(self, event: CommissionAccrual.Corrected) -> list[RowChange]:
        """What the ledger booked again under changed rules; the view's own rules, if it has
        them, have computed the order from its facts already."""
        if self._rules_for(event.facts) is not None:
            return []
        return self._add(_facts_rows(event.facts), event.deltas)

    def _rules_for(self, facts: OrderFacts | None) -> CommissionPolicy | None:
        """The rules a candidate computes the order under; None: it shows what was booked."""
        change = self.change
        if change is None or facts is None or facts.paid_at is None:
            return None
        return change.in_force(facts.paid_at) if facts.brand_id == change.brand_id else None

    def _add(self, where: Where | None, amounts: Mapping[str, int]) -> list[RowChange]:
        if where is None or (self.change and where[1] != self.change.brand_id):
            return []
        order_id, brand_id, period = where
        fixed = {"brand_id": brand_id, "period": period}
        return [
            Increment(self.table, (order_id, payee), {"amount_fen": amount}, fixed)
            for payee, amount in sorted(amounts.items())
            if amount
        ]


def _facts_rows(facts: OrderFacts) -> Where:
    return facts.order_id, facts.brand_id, facts.paid_period


def _recorded_rows(event: Accrual | CommissionAccrual.Reversed) -> Where | None:
    """Where the recorded amounts go: by the facts, or by the posting that moved them
    (none moved nothing)."""
    if event.facts is not None:
        return _facts_rows(event.facts)
    posting = event.posting
    if posting is None:
        return None
    assert posting.order_id is not None, "an accrual's postings name the order"
    return posting.order_id, posting.brand_id, posting.period


@dataclass(frozen=True)
class OrderDiff:
    order_id: UUID
    old_fen: int
    new_fen: int

    @property
    def difference_fen(self) -> int:
        return self.new_fen - self.old_fen


@dataclass(frozen=True)
class DiffLine:
    """One payee's period under the serving view and the candidate: what all its orders
    come to, and the orders whose amount changes."""

    payee: str
    period: str
    old_fen: int
    new_fen: int
    orders: tuple[OrderDiff, ...]
    correction_period: str  # the period itself if open; else the next open one

    @property
    def difference_fen(self) -> int:
        return self.new_fen - self.old_fen


def diff(
    old_rows: Iterable[dict[str, Any]],
    new_rows: Iterable[dict[str, Any]],
    open_period_from: Callable[[str], str],
) -> list[DiffLine]:
    """Per payee and period where the two views differ: old, new and the orders that
    change. A closed period never changes, so its difference is due in the next open one."""
    old = {(r["order_id"], r["payee"]): r for r in old_rows}
    new = {(r["order_id"], r["payee"]): r for r in new_rows}
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    changed: dict[tuple[str, str], list[OrderDiff]] = defaultdict(list)
    for key in sorted(old.keys() | new.keys(), key=lambda k: (str(k[0]), k[1])):
        row = new.get(key) or old[key]
        before = old[key]["amount_fen"] if key in old else 0
        after = new[key]["amount_fen"] if key in new else 0
        where = (row["payee"], row["period"])
        totals[where][0] += before
        totals[where][1] += after
        if before != after:
            changed[where].append(OrderDiff(key[0], before, after))
    lines = []
    for (payee, period), orders in sorted(changed.items()):
        before, after = totals[(payee, period)]
        lines.append(
            DiffLine(payee, period, before, after, tuple(orders), open_period_from(period))
        )
    return lines
