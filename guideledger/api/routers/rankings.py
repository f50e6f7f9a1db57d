"""The morning rankings of stores and guides, and daily sales."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from guideledger.api.auth import Caller, Forbidden, Role
from guideledger.api.dependencies import OwnersDep, RankingsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.tenancy import allow
from guideledger.rankings.application.rankings import GuideMeasure, StoreMeasure

router = APIRouter(tags=["rankings"], responses=PROBLEM_RESPONSES)
RankingReader = Annotated[
    Caller, Depends(allow(Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT, Role.GUIDE))
]
PERSONAL_ROLES = (Role.GUIDE, Role.STORE_MANAGER)
Day = Annotated[date | None, Query(description="A day in the brand's time zone; default yesterday")]


class SalesView(BaseModel):
    paid_orders: int
    sales_fen: int
    online_sales_fen: int
    refunds_fen: int
    net_sales_fen: int


def _sales(s: Any) -> SalesView:
    return SalesView(**vars(s), net_sales_fen=s.net_sales_fen)


class StoreRankView(BaseModel):
    rank: int
    store_id: UUID
    branch_id: UUID
    district_id: UUID
    sales: SalesView


class GuideRankView(BaseModel):
    rank: int
    guide_id: UUID
    store_id: UUID
    sales: SalesView
    shares: int
    visits: int
    share_orders: int
    share_rate: float
    conversion: float  # paid orders through the guide's shares, per visit


class DayView(BaseModel):
    day: str
    sales: SalesView


@router.get(
    "/brands/{brand_id}/rankings/stores",
    operation_id="rankStores",
)
def rank_stores(
    brand_id: UUID,
    rankings: RankingsDep,
    caller: RankingReader,
    day: Day = None,
    measure: StoreMeasure = StoreMeasure.TOTAL,
) -> list[StoreRankView]:
    """Every store's rank; a store manager sees their own store's row, a guide none."""
    return [
        StoreRankView(
            rank=r.rank,
            store_id=r.store_id,
            branch_id=r.branch_id,
            district_id=r.district_id,
            sales=_sales(r.sales),
        )
        for r in rankings.stores(brand_id, day, measure)
        if caller.role not in PERSONAL_ROLES or r.store_id == caller.store_id
    ]


@router.get(
    "/brands/{brand_id}/rankings/guides",
    operation_id="rankGuides",
)
def rank_guides(
    brand_id: UUID,
    rankings: RankingsDep,
    caller: RankingReader,
    owners: OwnersDep,
    day: Day = None,
    store_id: UUID | None = None,
    district_id: UUID | None = None,
    branch_id: UUID | None = None,
    measure: GuideMeasure = GuideMeasure.SALES,
) -> list[GuideRankView]:
    """The brand's guides ranked, or one store's, district's or branch's; a guide sees their
    own row, a store manager their store's guides (their store's ranking by default)."""
    if caller.role is Role.STORE_MANAGER and not (store_id or district_id or branch_id):
        store_id = caller.store_id
    owners.admit(district_id=district_id, branch_id=branch_id)
    ranks = rankings.guides(
        brand_id,
        day,
        store_id=store_id,
        district_id=district_id,
        branch_id=branch_id,
        measure=measure,
    )
    return [
        GuideRankView(
            rank=r.rank,
            guide_id=r.guide_id,
            store_id=r.store_id,
            sales=_sales(r.sales),
            shares=r.shares,
            visits=r.visits,
            share_orders=r.share_orders,
            share_rate=round(r.share_rate, 4),
            conversion=round(r.conversion, 4),
        )
        for r in ranks
        if _sees_guide(caller, r.guide_id, r.store_id)
    ]


def _sees_guide(caller: Caller, guide_id: UUID, store_id: UUID) -> bool:
    if caller.role is Role.GUIDE:
        return guide_id == caller.guide_id
    if caller.role is Role.STORE_MANAGER:
        return store_id == caller.store_id
    return True


@router.get("/brands/{brand_id}/sales/daily", operation_id="dailySales")
def daily_sales(
    brand_id: UUID,
    rankings: RankingsDep,
    first: date,
    last: date,
    caller: RankingReader,
    owners: OwnersDep,
    store_id: UUID | None = None,
    branch_id: UUID | None = None,
    guide_id: UUID | None = None,
    district_id: UUID | None = None,
) -> list[DayView]:
    """Guides read their own days, store managers their store's."""
    scope = _scope(caller, owners, store_id, branch_id, guide_id, district_id)
    days = rankings.daily_sales(brand_id, first, last, **scope)
    return [DayView(day=d.day, sales=_sales(d.sales)) for d in days]


class GlanceView(BaseModel):
    day: DayView
    day_before: DayView
    week_before: DayView  # the same weekday a week before


@router.get("/brands/{brand_id}/sales/yesterday", operation_id="glanceAtYesterday")
def glance_at_yesterday(
    brand_id: UUID,
    rankings: RankingsDep,
    caller: RankingReader,
    owners: OwnersDep,
    day: Day = None,
    store_id: UUID | None = None,
    branch_id: UUID | None = None,
    guide_id: UUID | None = None,
    district_id: UUID | None = None,
) -> GlanceView:
    """A day's sales (yesterday in the brand's time zone by default) beside the day before
    and the same weekday a week before, for the brand or one store, branch, district or
    guide; guides read their own, store managers their store's."""
    scope = _scope(caller, owners, store_id, branch_id, guide_id, district_id)
    glance = rankings.glance(brand_id, day, **scope)
    return GlanceView(
        **{
            name: DayView(day=figures.day, sales=_sales(figures.sales))
            for name, figures in vars(glance).items()
        }
    )


def _scope(
    caller: Caller,
    owners: OwnersDep,
    store_id: UUID | None,
    branch_id: UUID | None,
    guide_id: UUID | None,
    district_id: UUID | None,
) -> dict[str, UUID | None]:
    if caller.role is Role.GUIDE and guide_id is None:
        raise Forbidden("a guide reads only their own sales: give guide_id")
    if caller.role is Role.STORE_MANAGER and store_id is None:
        raise Forbidden("a store manager reads only their store's sales: give store_id")
    ids = {"store_id": store_id, "branch_id": branch_id, "guide_id": guide_id}
    owners.admit(**ids, district_id=district_id)
    return {**ids, "district_id": district_id}
