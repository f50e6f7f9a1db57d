"""The managers' measures (sales through guides' shares, across cities, after closing and
across branches) and the share funnel of a guide, a store, a district or a branch."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from guideledger.api.auth import Caller, Forbidden, Role
from guideledger.api.dependencies import MeasuresDep, OwnersDep, RankingsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.tenancy import allow
from guideledger.rankings.application.funnel import share_funnel
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
    cross_city_fen: int  # delivered to another city than the store's
    after_closing_fen: int
    cross_branch_fen: int
    through_shares_rate: float
    cross_city_rate: float
    after_closing_rate: float
    cross_branch_rate: float

    @classmethod
    def of(cls, m: Measures) -> MeasuresView:
        return cls(
            **vars(m),
            through_shares_fen=m.through_shares_fen,
            through_shares_rate=round(m.rate(m.through_shares_fen), 4),
            cross_city_rate=round(m.rate(m.cross_city_fen), 4),
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
    owners.admit(store_id=store_id, branch_id=branch_id)
    days = measures.daily(brand_id, first, last, store_id=store_id, branch_id=branch_id)
    return RangeMeasuresView(
        first=first,
        last=last,
        total=MeasuresView.of(Measures.total(d.measures for d in days)),
        days=[DayMeasuresView(day=d.day, measures=MeasuresView.of(d.measures)) for d in days],
    )


class FunnelStepView(BaseModel):
    step: str
    count: int
    conversion: float | None


class FunnelView(BaseModel):
    first: date
    last: date
    steps: list[FunnelStepView]


@router.get("/brands/{brand_id}/funnel", operation_id="getShareFunnel")
def get_share_funnel(
    brand_id: UUID,
    first: date,
    last: date,
    rankings: RankingsDep,
    caller: Annotated[
        Caller, Depends(allow(Role.STORE_MANAGER, Role.GUIDE, Role.FINANCE, Role.SUPPORT))
    ],
    owners: OwnersDep,
    guide_id: UUID | None = None,
    store_id: UUID | None = None,
    district_id: UUID | None = None,
    branch_id: UUID | None = None,
) -> FunnelView:
    """Shares made from `first` to `last` (days in the brand's time zone) by one guide, or
    from one store, district or branch, and their visits, add-to-carts, orders and payments since;
    a guide follows their own shares, a store manager their store's."""
    if caller.role is Role.GUIDE and guide_id != caller.guide_id:
        raise Forbidden("a guide follows only their own shares: give your guide_id")
    if caller.role is Role.STORE_MANAGER and store_id != caller.store_id:
        raise Forbidden("a store manager follows only their store's shares: give store_id")
    units = {"store_id": store_id, "district_id": district_id, "branch_id": branch_id}
    owners.admit(guide_id=guide_id, **units)
    funnel = share_funnel(
        rankings.read_models,
        brand_id,
        first,
        last,
        guide_id=guide_id,
        **units,
    )
    steps = [
        FunnelStepView(
            step=s.step,
            count=s.count,
            conversion=None if s.conversion is None else round(s.conversion, 4),
        )
        for s in funnel.steps()
    ]
    return FunnelView(first=first, last=last, steps=steps)
