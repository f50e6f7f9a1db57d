"""Commission rules, period closes, statements (also as CSV), payouts and the trial balance."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.auth import Caller, Forbidden, Role
from guideledger.api.dependencies import (
    ClockDep,
    CommandDep,
    CommissionsDep,
    OrganisationDep,
    OwnersDep,
    SettlementAuditDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Code, PositiveFen, StrictModel
from guideledger.api.tenancy import Owners, allow, anyone
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.ledger import StatementLine
from guideledger.commissions.domain.rules import ANY, CommissionPolicy, Payee, PayeeLevel, RateRule
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.guides import Guide

router = APIRouter(tags=["ledger"], responses=PROBLEM_RESPONSES)
Period = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$", examples=["2026-11"])]
PayeeKey = Annotated[
    str,
    Query(
        pattern=r"^(guide|store|district|region|branch):[0-9a-f-]{36}$",
        examples=["guide:6f1c2d3e-0000-4000-8000-000000000000"],
    ),
]


class RateView(StrictModel):
    level: PayeeLevel
    rate_bp: int = Field(strict=True, ge=0, le=5_000, description="Basis points")
    category: str = Field(default=ANY, min_length=1, max_length=64)
    channel: str = Field(default=ANY, min_length=1, max_length=64)


class PublishCommissionPolicy(StrictModel):
    rates: list[RateView] = Field(min_length=1, max_length=200)
    fulfilment_fee_bp: int = Field(default=200, strict=True, ge=0, le=5_000)
    top_guide_percent: int = Field(default=5, strict=True, ge=0, le=100)
    top_guide_bonus_fen: int = Field(default=50_000, strict=True, ge=0, le=10**9)
    return_window_days: int = Field(default=7, strict=True, ge=0, le=90)
    effective_from: AwareDatetime | None = Field(
        default=None,
        description="Defaults to the instant the request is accepted; may be in the past "
        "while every settlement period it reaches is open",
    )

    def draft(self, now: datetime) -> CommissionPolicy:
        """The rules asked for, effective from `effective_from` or else `now`."""
        return CommissionPolicy(
            rates=tuple(RateRule(r.level, r.rate_bp, r.category, r.channel) for r in self.rates),
            fulfilment_fee_bp=self.fulfilment_fee_bp,
            top_guide_percent=self.top_guide_percent,
            top_guide_bonus_fen=self.top_guide_bonus_fen,
            return_window_days=self.return_window_days,
            effective_from=self.effective_from or now,
        )


class CommissionPolicyView(BaseModel):
    version: int
    effective_from: datetime
    rates: list[RateView]
    fulfilment_fee_bp: int
    top_guide_percent: int
    top_guide_bonus_fen: int
    return_window_days: int

    @classmethod
    def of(cls, policy: CommissionPolicy) -> CommissionPolicyView:
        return cls(
            version=policy.version,
            effective_from=policy.effective_from,
            rates=[RateView(**vars(r)) for r in policy.rates],
            fulfilment_fee_bp=policy.fulfilment_fee_bp,
            top_guide_percent=policy.top_guide_percent,
            top_guide_bonus_fen=policy.top_guide_bonus_fen,
            return_window_days=policy.return_window_days,
        )


class Closed(BaseModel):
    period: str
    closed_payees: list[str]


class StatementSummary(BaseModel):
    period: str
    closed: bool
    final: bool
    total_fen: int
    lines: int
    paid_reference: str | None


class StatementLineView(BaseModel):
    kind: str
    amount_fen: int
    description: str
    order_id: UUID | None
    rule_version: int | None
    previous_rule_version: int | None = Field(
        default=None, description="A correction's: the rule version it replaced"
    )
    posting_id: str | None
    source_events: list[str]
    held_for: UUID | None = Field(
        description="On a store's statement: the guide whose share the store held or handed"
        " back; the guide's money, not in the total"
    )


class StatementView(BaseModel):
    payee: str
    period: str
    closed: bool
    final: bool
    total_fen: int
    paid_reference: str | None
    lines: list[StatementLineView]
    partial: bool = Field(
        default=False, description="Only the lines earned at the reading manager's store"
    )

    @classmethod
    def of(cls, statement: SettlementPeriod, lines: list[StatementLine]) -> StatementView:
        return cls(
            payee=statement.payee.key,
            period=statement.period,
            closed=statement.closed,
            final=statement.final,
            total_fen=sum(line.amount_fen for line in lines if line.in_total),
            paid_reference=statement.paid_reference,
            lines=[
                StatementLineView(
                    kind=line.kind,
                    amount_fen=line.amount_fen,
                    description=line.description,
                    order_id=line.order_id,
                    rule_version=line.rule_version,
                    previous_rule_version=line.previous_rule_version,
                    posting_id=line.posting_id,
                    source_events=list(line.source_events),
                    held_for=line.held.held_for if line.held else None,
                )
                for line in lines
            ],
        )


class Payout(StrictModel):
    amount_fen: PositiveFen
    reference: Code


class AccountBalance(BaseModel):
    account: str
    balance_fen: int


class TrialBalance(BaseModel):
    total_fen: int = Field(description="Zero when the books balance")
    accounts: list[AccountBalance]


@router.post(
    "/brands/{brand_id}/commission-policies",
    operation_id="publishCommissionPolicy",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def publish_commission_policy(
    brand_id: UUID,
    body: PublishCommissionPolicy,
    commissions: CommissionsDep,
    clock: ClockDep,
    command: CommandDep,
) -> Accepted:
    draft = body.draft(clock.now())
    return Accepted.of(
        commissions.publish_policy(
            command, brand_id, draft, effective_now=body.effective_from is None
        )
    )


@router.get(
    "/brands/{brand_id}/commission-policies",
    operation_id="listCommissionPolicies",
    dependencies=[Depends(anyone)],
)
def commission_policies(brand_id: UUID, commissions: CommissionsDep) -> list[CommissionPolicyView]:
    return [CommissionPolicyView.of(policy) for policy in commissions.policies(brand_id)]


@router.post(
    "/brands/{brand_id}/periods/{period}/close",
    operation_id="closePeriod",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def close_period(
    brand_id: UUID, period: Period, commissions: CommissionsDep, command: CommandDep
) -> Closed:
    """Closes the brand's period once: handbacks, top-guide bonuses, every payee's statement."""
    return Closed(period=period, closed_payees=commissions.close_period(command, brand_id, period))


def _payee(level: PayeeLevel, payee_id: UUID) -> str:
    return Payee(level, payee_id).key


READS_STATEMENTS = Depends(allow(Role.GUIDE, Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT))
StatementReader = Annotated[Caller, READS_STATEMENTS]


def _whole_statements(
    caller: Caller, level: PayeeLevel, payee_id: UUID, organisation: OrganisationApplication
) -> None:
    """A guide's statements as a whole (their totals) are their current store's manager's."""
    if (
        caller.role is Role.STORE_MANAGER
        and level is PayeeLevel.GUIDE
        and organisation.load(Guide, payee_id).store_id != caller.store_id
    ):
        raise Forbidden("a store manager reads a former guide's lines earned at the store")


def _earned_at_store(
    caller: Caller, level: PayeeLevel, payee_id: UUID, owners: Owners
) -> Callable[[StatementLine], bool] | None:
    """Which of a guide's statement lines a store manager reads: the sales attributed to
    their store, and the other lines while the guide works there. None: every line."""
    if caller.role is not Role.STORE_MANAGER or level is not PayeeLevel.GUIDE:
        return None
    current = owners.org.load(Guide, payee_id).store_id == caller.store_id

    def visible(line: StatementLine) -> bool:
        if line.order_id is None:
            return current
        return owners.store_of_order(line.order_id) == caller.store_id

    return visible


@router.get(
    "/payees/{level}/{payee_id}/statements",
    operation_id="listStatements",
    dependencies=[READS_STATEMENTS],
)
def statements(
    level: PayeeLevel,
    payee_id: UUID,
    commissions: CommissionsDep,
    organisation: OrganisationDep,
    caller: StatementReader,
) -> list[StatementSummary]:
    _whole_statements(caller, level, payee_id, organisation)
    payee = _payee(level, payee_id)
    return [
        StatementSummary(
            period=row["period"],
            closed=row["closed"],
            final=row["final"],
            total_fen=row["total_fen"],
            lines=row["lines"],
            paid_reference=row["paid_reference"],
        )
        for row in commissions.statements(payee)
    ]


def statement_view(
    commissions: CommissionApplication,
    payee_key: str,
    period: str,
    visible: Callable[[StatementLine], bool] | None = None,
) -> StatementView:
    found = commissions.statement(payee_key, period)
    lines = commissions.statement_lines(found)
    if visible is None:
        return StatementView.of(found, lines)
    shown = [line for line in lines if visible(line)]
    return StatementView.of(found, shown).model_copy(update={"partial": shown != lines})


@router.get(
    "/payees/{level}/{payee_id}/statements/{period}",
    operation_id="getStatement",
    dependencies=[READS_STATEMENTS],
)
def statement(
    level: PayeeLevel,
    payee_id: UUID,
    period: Period,
    commissions: CommissionsDep,
    owners: OwnersDep,
    caller: StatementReader,
) -> StatementView:
    visible = _earned_at_store(caller, level, payee_id, owners)
    return statement_view(commissions, _payee(level, payee_id), period, visible)


@router.get(
    "/payees/{level}/{payee_id}/statements/{period}/csv",
    operation_id="exportStatementCsv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The statement as CSV"}},
    dependencies=[READS_STATEMENTS],
)
def statement_csv(
    level: PayeeLevel,
    payee_id: UUID,
    period: Period,
    commissions: CommissionsDep,
    owners: OwnersDep,
    caller: StatementReader,
) -> Response:
    visible = _earned_at_store(caller, level, payee_id, owners)
    view = statement_view(commissions, _payee(level, payee_id), period, visible)
    return Response(
        statement_as_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{level}-{payee_id}-{period}.csv"'},
    )


def statement_as_csv(view: StatementView) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "payee",
            "period",
            "kind",
            "amount_fen",
            "order_id",
            "rule_version",
            "posting_id",
            "source_events",
            "description",
            "held_for",
        ]
    )
    for line in view.lines:
        writer.writerow(
            [
                view.payee,
                view.period,
                line.kind,
                line.amount_fen,
                line.order_id or "",
                "" if line.rule_version is None else line.rule_version,
                line.posting_id or "",
                " ".join(line.source_events),
                line.description,
                line.held_for or "",
            ]
        )
    writer.writerow([view.payee, view.period, "total", view.total_fen, "", "", "", "", "", ""])
    return buffer.getvalue()


@router.post(
    "/payees/{level}/{payee_id}/statements/{period}/payout",
    operation_id="recordPayout",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def record_payout(
    level: PayeeLevel,
    payee_id: UUID,
    period: Period,
    body: Payout,
    commissions: CommissionsDep,
    command: CommandDep,
) -> Accepted:
    result = commissions.pay_out(
        command, _payee(level, payee_id), period, body.amount_fen, body.reference
    )
    return Accepted.of(result)


@router.get(
    "/payees/{level}/{payee_id}/balances",
    operation_id="getPayeeBalances",
    dependencies=[READS_STATEMENTS],
)
def balances(
    level: PayeeLevel,
    payee_id: UUID,
    commissions: CommissionsDep,
    organisation: OrganisationDep,
    caller: StatementReader,
) -> dict[str, int]:
    """What the payee is owed, per bucket: pending, settleable, payable (and held, for stores)."""
    _whole_statements(caller, level, payee_id, organisation)
    return commissions.balances(_payee(level, payee_id))


@router.get(
    "/brands/{brand_id}/trial-balance",
    operation_id="getTrialBalance",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def trial_balance(brand_id: UUID, commissions: CommissionsDep) -> TrialBalance:
    total, accounts = commissions.trial_balance(brand_id)
    return TrialBalance(
        total_fen=total,
        accounts=[AccountBalance(account=a, balance_fen=b) for a, b in sorted(accounts.items())],
    )


class MismatchView(BaseModel):
    payee: str
    period: str
    what: str
    stored_fen: int
    replayed_fen: int
    event_ids: list[str]


class AuditView(BaseModel):
    period: str
    payee: str | None
    events_replayed: int
    clean: bool = Field(description="Every stored statement equals its replay to the fen")
    matched: list[str]
    mismatches: list[MismatchView]


@router.get(
    "/brands/{brand_id}/periods/{period}/audit",
    operation_id="auditPeriod",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def audit_period(
    brand_id: UUID, period: Period, audit: SettlementAuditDep, payee: PayeeKey | None = None
) -> AuditView:
    """Replays every commission event from zero in memory, recomputes the period's
    statements (accruals under the rules their postings record) and compares them with
    the stored ones to the fen; every mismatch names the events involved."""
    report = audit.run(brand_id, period, payee)
    return AuditView(
        period=report.period,
        payee=report.payee,
        events_replayed=report.events_replayed,
        clean=report.clean,
        matched=report.matched,
        mismatches=[
            MismatchView(**{**vars(m), "event_ids": list(m.event_ids)}) for m in report.mismatches
        ],
    )
