"""The managers' measures: sales through guides' shares, after closing and across branches."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from guideledger.api.auth import Caller, Forbidden, Role
from guideledger.api.dependencies import MeasuresDep, OwnersDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.tenancy import allow
from guideledger.rankings.application.measures import Measures

router = APIRouter(tags=["rankings"], responses=PROBLEM_RESPONSES)
ManagerReader = Annotated[Caller, Depends(allow(Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT))]


class MeasuresView(BaseModel):
    orders: int
    net_sales_fen: int
    through_shares_fen: int  # product links, QR codes and live streams
    link_fen: int
    qr_fen: int
    live_stream_fen: int
    after_closing_fen: int
    cross_branch_fen: int
    through_shares_rate: float
    after_closing_rate: float
    cross_branch_rate: float

    @classmethod
    def of(cls, m: Measures) -> MeasuresView:
        return cls(
            **vars(m),
            through_shares_fen=m.through_shares_fen,
            through_shares_rate=round(m.rate(m.through_shares_fen), 4),
            after_closing_rate=round(m.rate(m.after_closing_fen), 4),
            cross_branch_rate=round(m.rate(m.cross_branch_fen), 4),
        )


class DayMeasuresView(BaseModel):
    day: str
    measures: MeasuresView


class RangeMeasuresView(BaseModel):
    first: date
    last: date
    total: MeasuresView
    days: list[DayMeasuresView]


@router.get("/brands/{brand_id}/measures", operation_id="getMeasures")
def get_measures(
    brand_id: UUID,
    first: date,
    last: date,
    measures: MeasuresDep,
    caller: ManagerReader,
    owners: OwnersDep,
    store_id: UUID | None = None,
    branch_id: UUID | None = None,
) -> RangeMeasuresView:
    """The brand's measures over a range of days in its time zone, or one branch's or
    store's, per day and in total; a store manager reads their own store's."""
    if caller.role is Role.STORE_MANAGER and store_id is None:
        raise Forbidden("a store manager reads only their store's measures: give store_id")
    owners.admit(caller, store_id=store_id, branch_id=branch_id)
    days = measures.daily(brand_id, first, last, store_id=store_id, branch_id=branch_id)
    return RangeMeasuresView(
        first=first,
        last=last,
        total=MeasuresView.of(Measures.total(d.measures for d in days)),
        days=[DayMeasuresView(day=d.day, measures=MeasuresView.of(d.measures)) for d in days],
    )
