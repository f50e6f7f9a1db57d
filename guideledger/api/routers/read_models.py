"""A brand's commission view, and rule changes previewed in a candidate beside it: rebuild
under the rules as published or a proposal, read the diff, promote (book it) or discard."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Role
from guideledger.api.dependencies import ClockDep, CommandDep, CommissionViewsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.routers.commissions import CommissionPolicyView, PublishCommissionPolicy
from guideledger.api.schemas import Accepted, StrictModel
from guideledger.api.tenancy import allow
from guideledger.commissions.application.candidates import CandidateStatus

router = APIRouter(tags=["read models"], responses=PROBLEM_RESPONSES)
BASE = "/brands/{brand_id}/commission-view"
Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$", examples=["2026-11"])]


class Rebuild(StrictModel):
    proposal: PublishCommissionPolicy | None = Field(
        default=None,
        description="Commission rules to preview before they are published, checked as "
        "publishing them would be; `effective_from` defaults to now. Null: the rules as "
        "published (a version published to take effect in the past, say)",
    )


class CandidateView(BaseModel):
    candidate: int = Field(description="The brand's candidates so far: this one's number")
    rules_published: int = Field(description="The brand's versions it is built under")
    proposal: CommissionPolicyView | None = Field(
        description="The rules proposed, numbered as the next version; promoting publishes them"
    )
    events: int = Field(description="Commission events folded so far by this process")
    ready: bool

    @classmethod
    def of(cls, status: CandidateStatus) -> CandidateView:
        candidate = status.candidate
        proposal = candidate.proposal
        return cls(
            candidate=candidate.built,
            rules_published=candidate.published,
            proposal=None if proposal is None else CommissionPolicyView.of(proposal),
            events=status.events,
            ready=status.ready,
        )


class OrderDiffView(BaseModel):
    order_id: UUID
    old_fen: int
    new_fen: int
    difference_fen: int


class DiffLineView(BaseModel):
    payee: str
    period: str = Field(description="The period the orders were paid in")
    old_fen: int = Field(description="What the payee's orders of the period come to now")
    new_fen: int = Field(description="… and under the rules after the change")
    difference_fen: int
    orders: list[OrderDiffView] = Field(description="The orders whose amount changes")
    correction_period: str = Field(description="Where the difference is booked")


class PayeeCommission(BaseModel):
    payee: str
    amount_fen: int


@router.post(
    f"{BASE}/rebuilds",
    operation_id="rebuildCommissionView",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_202_ACCEPTED,
)
def rebuild(
    brand_id: UUID, body: Rebuild, views: CommissionViewsDep, clock: ClockDep
) -> CandidateView:
    """Builds the brand's candidate from event zero in the background: each order under the
    rules in force when it was paid, as they stand with the proposal. Writes no event."""
    proposal = None if body.proposal is None else body.proposal.draft(clock.now())
    views.rebuild(brand_id, proposal)
    return CandidateView.of(views.status(brand_id))


@router.get(
    f"{BASE}/candidate",
    operation_id="getCommissionViewCandidate",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def candidate(brand_id: UUID, views: CommissionViewsDep) -> CandidateView:
    return CandidateView.of(views.status(brand_id))


@router.get(
    f"{BASE}/diff",
    operation_id="diffCommissionView",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def diff(brand_id: UUID, views: CommissionViewsDep) -> list[DiffLineView]:
    """Per payee and period where the candidate differs from the serving view."""
    return [
        DiffLineView(
            payee=line.payee,
            period=line.period,
            old_fen=line.old_fen,
            new_fen=line.new_fen,
            difference_fen=line.difference_fen,
            orders=[
                OrderDiffView(**vars(order), difference_fen=order.difference_fen)
                for order in line.orders
            ],
            correction_period=line.correction_period,
        )
        for line in views.diff(brand_id)
    ]


@router.post(
    f"{BASE}/promote",
    operation_id="promoteCommissionView",
    dependencies=[Depends(allow())],
)
def promote(brand_id: UUID, views: CommissionViewsDep, command: CommandDep) -> Accepted:
    """Books the difference in one transaction (the proposal published, each changed order
    corrected) and retires the candidate; answers with the brand's commission rules book."""
    return Accepted.of(views.promote(command, brand_id))


@router.post(
    f"{BASE}/discard",
    operation_id="discardCommissionView",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_204_NO_CONTENT,
)
def discard(brand_id: UUID, views: CommissionViewsDep) -> Response:
    """Drops the candidate; books nothing."""
    views.discard(brand_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(BASE, operation_id="getCommissionView", dependencies=[Depends(allow(Role.FINANCE))])
def serving(brand_id: UUID, period: Period, views: CommissionViewsDep) -> list[PayeeCommission]:
    """Each payee's commission on the orders paid in `period`, as the ledger booked it."""
    return [PayeeCommission(**row) for row in views.serving(brand_id, period)]
