"""Read models of the commission ledger: balances, settlement periods, commissions due."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guideledger.commissions.domain.ledger import (
    BrandPeriodClose,
    CommissionAccrual,
    SettlementPeriod,
)
from guideledger.commissions.domain.rules import Posting
from guideledger.readmodels.model import Delete, Increment, Projection, RowChange, Table, Upsert

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

COMMISSIONS_DUE = Table(
    name="commissions_due",
    key=("accrual_id",),
    columns={"accrual_id": "uuid", "brand_id": "uuid", "delivered_at": "timestamp"},
    indexes=(("brand_id",),),
)


def _postings(event: Any) -> list[Posting]:
    found = [event.posting] if getattr(event, "posting", None) is not None else []
    return found + list(getattr(event, "postings", ()))


class LedgerBalances(Projection):
    """Every account's balance, folded from every posting."""

    name = "ledger_balances"
    application = "commissions"
    tables = (LEDGER_BALANCES,)
    handles = (
        *((CommissionAccrual, n) for n in ("Accrued", "Matured", "Reversed", "Reaccrued")),
        (SettlementPeriod, "Closed"),
        (SettlementPeriod, "PaidOut"),
        (BrandPeriodClose, "HandbacksPosted"),
        (BrandPeriodClose, "BonusesPosted"),
    )

    def changes(self, event: Any) -> Iterable[RowChange]:
        changes: list[RowChange] = []
        for posting in _postings(event):
            for entry in posting.entries:
                owner, bucket = _split_account(entry.account)
                changes.append(
                    Increment(
                        LEDGER_BALANCES,
                        (entry.account,),
                        {"balance_fen": entry.amount_fen},
                        fixed={"brand_id": posting.brand_id, "owner": owner, "bucket": bucket},
                    )
                )
        return changes


def _split_account(account: str) -> tuple[str, str]:
    level, identity, bucket = account.split(":", 2)
    return f"{level}:{identity}", bucket


class SettlementPeriods(Projection):
    """Each payee's periods: open or closed, statement total, paid or not."""

    name = "settlement_periods"
    application = "commissions"
    tables = (SETTLEMENT_PERIODS,)
    handles = tuple((SettlementPeriod, n) for n in ("Opened", "LineAdded", "Closed", "PaidOut"))

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Opened":
                row = {
                    "brand_id": event.brand_id,
                    "payee": event.payee.key,
                    "period": event.period,
                    "closed": False,
                    "final": False,
                    "total_fen": 0,
                    "lines": 0,
                }
                return [Upsert(SETTLEMENT_PERIODS, key, row)]
            case "LineAdded":
                deltas = {"lines": 1, "total_fen": event.line.amount_fen}
                return [Increment(SETTLEMENT_PERIODS, key, deltas)]
            case "Closed":
                row = {"closed": True, "final": event.final, "total_fen": event.total_fen}
                return [Upsert(SETTLEMENT_PERIODS, key, row)]
            case "PaidOut":
                return [Upsert(SETTLEMENT_PERIODS, key, {"paid_reference": event.reference})]
        return []


class CommissionsDue(Projection):
    """Accruals not matured yet, with the delivery their return window counts from."""

    name = "commissions_due"
    application = "commissions"
    tables = (COMMISSIONS_DUE,)
    handles = (
        (CommissionAccrual, "Accrued"),
        (CommissionAccrual, "DeliveryRecorded"),
        (CommissionAccrual, "Matured"),
    )

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Accrued":
                return [Upsert(COMMISSIONS_DUE, key, {"brand_id": event.brand_id})]
            case "DeliveryRecorded":
                return [Upsert(COMMISSIONS_DUE, key, {"delivered_at": event.delivered_at})]
            case "Matured":
                return [Delete(COMMISSIONS_DUE, key)]
        return []
