"""The commission view: what each payee earns on each order under one set of rules.

The ledger books each order once, under the rules in force when it was paid, and
never rewrites history. This read model answers finance's other question: what
would every order earn under these rules? Version 1 follows the ledger (the
amounts it recorded, under the rules in force at payment); a rebuild under a
published rules version builds a new version beside it, from event zero, for a
diff before promotion.

It folds the commission log and reads nothing else. Each accrual's events carry the
`OrderFacts` it was computed from, so the view computes the accrual again under its
rules with the ledger's own functions (`accrual_shares`, `net_of_returns`): a return
or cancel as one reversal of everything returned so far, as the ledger computes one.
Where the view has no rules for the brand (version 1, or a brand that never published
the version) it shows the amounts the ledger recorded; so it does for accruals recorded
before the facts were, which have none (a re-accrual of those shows in the period it
was booked in, not the one the order was paid in, which its events do not name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from uuid import UUID

from guideledger.commissions.domain.earnings import OrderFacts, accrual_shares, net_of_returns
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert, on

# Named apart from the view that followed the orders' log (tables `commission_view_v<N>`,
# droppable): its stored positions count another log, so this view builds from the start.
NAME = "accrued_commission_view"

Accrual = CommissionAccrual.Accrued | CommissionAccrual.Reaccrued
Where = tuple[UUID, UUID, str]  # the rows' order, brand and period


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


class CommissionView(Projection):
    application = "commissions"

    def __init__(self, version: int, rules: Mapping[UUID, CommissionPolicy]) -> None:
        """`rules`: each brand's version of the rules the view is built under, as published
        when the view is made (none for version 1, which follows the ledger)."""
        self.version = version
        self.name = f"{NAME}_v{version}"  # type: ignore[misc]
        self.table = commission_view_table(version)
        self.tables = (self.table,)  # type: ignore[misc]
        self.rules = MappingProxyType(dict(rules))

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
        return None if facts is None else self.rules.get(facts.brand_id)

    def _add(self, where: Where | None, amounts: Mapping[str, int]) -> list[RowChange]:
        if where is None:
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
