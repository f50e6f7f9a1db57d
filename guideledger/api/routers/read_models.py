"""Blue/green rebuilds of the commission view: rebuild under other rules, diff, promote, discard."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Role
from guideledger.api.dependencies import CommissionViewsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import StrictModel
from guideledger.api.tenancy import allow, allow_platform

router = APIRouter(tags=["read models"], responses=PROBLEM_RESPONSES)
BASE = "/read-models/commission-view"
Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$", examples=["2026-11"])]


class Rebuild(StrictModel):
    rules_version: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=1_000_000,
        description="Each brand's published commission rules of this version; "
        "null: the rules in force when each order was paid",
    )


class VersionsView(BaseModel):
    serving: int
    serving_rules: int | None
    candidate: int | None
    candidate_rules: int | None
    candidate_events: int | None = None
    candidate_ready: bool | None = None


class DiffLineView(BaseModel):
    payee: str
    period: str
    old_fen: int
    new_fen: int
    difference_fen: int
    orders_affected: int
    correction_period: str = Field(description="Where the difference would be booked")


class PayeeCommission(BaseModel):
    payee: str
    amount_fen: int


@router.get(
    BASE, operation_id="getCommissionViewVersions", dependencies=[Depends(allow_platform())]
)
def versions(views: CommissionViewsDep) -> VersionsView:
    return VersionsView(**views.status())


@router.post(
    f"{BASE}/rebuilds",
    operation_id="rebuildCommissionView",
    dependencies=[Depends(allow_platform())],
    status_code=status.HTTP_202_ACCEPTED,
)
def rebuild(body: Rebuild, views: CommissionViewsDep) -> VersionsView:
    """Builds a candidate from event zero in the background; the serving version keeps serving."""
    views.rebuild(body.rules_version)
    return VersionsView(**views.status())


@router.get(
    "/brands/{brand_id}/commission-view/diff",
    operation_id="diffCommissionView",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def diff(brand_id: UUID, views: CommissionViewsDep) -> list[DiffLineView]:
    """Per payee and period where the candidate differs from the serving version."""
    return [
        DiffLineView(**vars(line), difference_fen=line.difference_fen)
        for line in views.diff(brand_id)
    ]


@router.post(
    f"{BASE}/promote",
    operation_id="promoteCommissionView",
    dependencies=[Depends(allow_platform())],
)
def promote(views: CommissionViewsDep) -> VersionsView:
    """The candidate serves from now on, in one transaction; the old version is dropped."""
    return VersionsView(**vars(views.promote()))


@router.post(
    f"{BASE}/discard",
    operation_id="discardCommissionView",
    dependencies=[Depends(allow_platform())],
)
def discard(views: CommissionViewsDep) -> VersionsView:
    return VersionsView(**vars(views.discard()))


@router.get(
    "/brands/{brand_id}/commission-view",
    operation_id="getCommissionView",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def serving(brand_id: UUID, period: Period, views: CommissionViewsDep) -> list[PayeeCommission]:
    """Each payee's commission on the orders paid in `period`, under the serving rules."""
    return [PayeeCommission(**row) for row in views.serving(brand_id, period)]
