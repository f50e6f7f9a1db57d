"""Read models of the commission ledger: balances, settlement periods, commissions due, and
the shares stores hold for guides, held line by held line, until they are handed back."""

from __future__ import annotations

from collections.abc import Iterable

from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import Posting, PostingKind
from guideledger.commissions.domain.settlement import BrandPeriodClose, SettlementPeriod
from guideledger.readmodels.model import Delete, Increment, Projection, RowChange, Table, Upsert, on

LEDGER_BALANCES = Table(
    name="ledger_balances",
    key=("account",),
    columns={
        "account": "text",
        "brand_id": "uuid",
        "owner": "text",  # "<level>:<id>" or "brand:<id>"
        "bucket": "text",
        "balance_fen": "int",  # debit positive, credit negative
    },
    indexes=(("brand_id",), ("owner",)),
)

SETTLEMENT_PERIODS = Table(
    name="settlement_periods",
    key=("period_id",),
    columns={
        "period_id": "uuid",
        "brand_id": "uuid",
        "payee": "text",
        "period": "text",
        "closed": "bool",
        "final": "bool",
        "total_fen": "int",
        "lines": "int",
        "paid_reference": "text",
    },
    indexes=(("brand_id", "period"), ("payee",)),
)

HELD_LINES = Table(
    name="held_lines",
    key=("event_id",),  # the line's `LineAdded` event
    columns={
        "event_id": "text",
        "account": "text",  # the store's holding for the guide
        "order_id": "uuid",
        "amount_fen": "int",
        "rule_version": "int",
    },
    indexes=(("account",),),
)

COMMISSIONS_DUE = Table(
    name="commissions_due",
    key=("accrual_id",),
    columns={"accrual_id": "uuid", "brand_id": "uuid", "delivered_at": "timestamp"},
    indexes=(("brand_id",),),
)


class LedgerBalances(Projection):
    """Every account's balance, folded from every posting."""

    name = "ledger_balances"
    application = "commissions"
    tables = (LEDGER_BALANCES,)

    @on(
        CommissionAccrual.Accrued,
        CommissionAccrual.Matured,
        CommissionAccrual.Reversed,
        CommissionAccrual.Reaccrued,
        CommissionAccrual.Corrected,
        SettlementPeriod.Closed,
        SettlementPeriod.PaidOut,
    )
    def posted(self, event: PostedOne) -> list[RowChange]:
        return _balances([event.posting] if event.posting is not None else [])

    @on(BrandPeriodClose.HandbacksPosted, BrandPeriodClose.BonusesPosted)
    def posted_many(
        self, event: BrandPeriodClose.HandbacksPosted | BrandPeriodClose.BonusesPosted
    ) -> list[RowChange]:
        return _balances(event.postings)


PostedOne = (
    CommissionAccrual.Accrued
    | CommissionAccrual.Matured
    | CommissionAccrual.Reversed
    | CommissionAccrual.Reaccrued
    | CommissionAccrual.Corrected
    | SettlementPeriod.Closed
    | SettlementPeriod.PaidOut
)


def _balances(postings: Iterable[Posting]) -> list[RowChange]:
    changes: list[RowChange] = []
    for posting in postings:
        for entry in posting.entries:
            account = entry.account
            changes.append(
                Increment(
                    LEDGER_BALANCES,
                    (str(account),),
                    {"balance_fen": entry.amount_fen},
                    fixed={
                        "brand_id": posting.brand_id,
                        "owner": account.owner,
                        "bucket": account.bucket_name,
                    },
                )
            )
    return changes


class SettlementPeriods(Projection):
    """Each payee's periods: open or closed, statement total, paid or not."""

    name = "settlement_periods"
    application = "commissions"
    tables = (SETTLEMENT_PERIODS,)

    @on(SettlementPeriod.Opened)
    def opened(self, event: SettlementPeriod.Opened) -> list[RowChange]:
        row = {
            "brand_id": event.brand_id,
            "payee": event.payee.key,
            "period": event.period,
            "closed": False,
            "final": False,
            "total_fen": 0,
            "lines": 0,
        }
        return [Upsert(SETTLEMENT_PERIODS, (event.originator_id,), row)]

    @on(SettlementPeriod.LineAdded)
    def line_added(self, event: SettlementPeriod.LineAdded) -> list[RowChange]:
        line = event.line
        deltas = {"lines": 1, "total_fen": line.amount_fen if line.in_total else 0}
        return [Increment(SETTLEMENT_PERIODS, (event.originator_id,), deltas)]

    @on(SettlementPeriod.Closed)
    def closed(self, event: SettlementPeriod.Closed) -> list[RowChange]:
        row = {"closed": True, "final": event.final, "total_fen": event.total_fen}
        return [Upsert(SETTLEMENT_PERIODS, (event.originator_id,), row)]

    @on(SettlementPeriod.PaidOut)
    def paid_out(self, event: SettlementPeriod.PaidOut) -> list[RowChange]:
        row = {"paid_reference": event.reference}
        return [Upsert(SETTLEMENT_PERIODS, (event.originator_id,), row)]


class HeldLines(Projection):
    """The lines of stores' statements holding a guide's share not handed back yet: a
    hand-back's line on the store's statement takes off the held lines it names."""

    name = "held_lines"
    application = "commissions"
    tables = (HELD_LINES,)

    @on(SettlementPeriod.LineAdded)
    def line_added(self, event: SettlementPeriod.LineAdded) -> list[RowChange]:
        line = event.line
        if line.held is None:
            return []
        if line.kind == PostingKind.HANDBACK:
            return [Delete(HELD_LINES, (held,)) for held in line.source_events]
        row = {
            "account": str(line.held),
            "order_id": line.order_id,
            "amount_fen": line.amount_fen,
            "rule_version": line.rule_version,
        }
        event_id = f"{event.originator_id}:{event.originator_version}"
        return [Upsert(HELD_LINES, (event_id,), row)]


class CommissionsDue(Projection):
    """Accruals not matured yet, with the delivery their return window counts from."""

    name = "commissions_due"
    application = "commissions"
    tables = (COMMISSIONS_DUE,)

    @on(CommissionAccrual.Accrued)
    def accrued(self, event: CommissionAccrual.Accrued) -> list[RowChange]:
        return [Upsert(COMMISSIONS_DUE, (event.originator_id,), {"brand_id": event.brand_id})]

    @on(CommissionAccrual.DeliveryRecorded)
    def delivered(self, event: CommissionAccrual.DeliveryRecorded) -> list[RowChange]:
        row = {"delivered_at": event.delivered_at}
        return [Upsert(COMMISSIONS_DUE, (event.originator_id,), row)]

    @on(CommissionAccrual.Matured)
    def matured(self, event: CommissionAccrual.Matured) -> list[RowChange]:
        return [Delete(COMMISSIONS_DUE, (event.originator_id,))]
