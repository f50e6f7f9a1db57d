"""The managers' and finance's morning page, and the two lists it needs beyond the rankings:
the brand's units (for filters and labels) and payouts per period and payee level.

The page is static HTML and JavaScript served from `api/static`; it reads only the
query API with the caller's bearer token, so the caller's role applies to every panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel

from guideledger.api.auth import Role
from guideledger.api.dependencies import CommissionsDep
from guideledger.api.freshness import ReadsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.tenancy import allow, anyone
from guideledger.organisation.application.directory import units

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["dashboard"], responses=PROBLEM_RESPONSES)
UnitKind = Literal["region", "district", "branch", "store", "warehouse"]


class UnitView(BaseModel):
    unit_id: UUID
    kind: UnitKind
    code: str
    name: str
    region_id: UUID | None
    branch_id: UUID | None
    district_id: UUID | None


class PayoutView(BaseModel):
    period: str
    level: str
    statements: int
    total_fen: int
    closed_fen: int
    paid_fen: int


@router.get(
    "/brands/{brand_id}/units",
    operation_id="listUnits",
    dependencies=[Depends(anyone)],
)
def list_units(brand_id: UUID, reads: ReadsDep, kind: UnitKind | None = None) -> list[UnitView]:
    """The brand's regions, districts, branches, stores and warehouses, by code (read on the
    cell's replica, if it has one)."""
    rows = units(reads, brand_id, kind)
    return [
        UnitView.model_validate({k: v for k, v in row.items() if k != "brand_id"}) for row in rows
    ]


@router.get(
    "/brands/{brand_id}/payouts",
    operation_id="listPayouts",
    dependencies=[Depends(allow(Role.FINANCE))],
)
def list_payouts(brand_id: UUID, commissions: CommissionsDep) -> list[PayoutView]:
    """Per period and payee level: statements, their total (open ones so far), what the closed
    ones came to and what was paid."""
    return [PayoutView(**row) for row in commissions.payouts(brand_id)]


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8")
