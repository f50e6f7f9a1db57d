"""Guides' shares and their funnel: the share, its visits and add-to-carts, and the orders
and payments it brought."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Caller, Role
from guideledger.api.dependencies import (
    CommandDep,
    EngagementDep,
    OrganisationDep,
    RankingsDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Code, StrictModel
from guideledger.api.tenancy import allow, anyone
from guideledger.engagement.domain import MAX_ACTIVITY_PER_CALL, ShareKind
from guideledger.organisation.domain.guides import Guide

router = APIRouter(tags=["engagement"], responses=PROBLEM_RESPONSES)


class ShareRequest(StrictModel):
    kind: ShareKind
    sku_id: UUID | None = None


class Shared(BaseModel):
    id: UUID
    version: int
    share_code: str


class Activity(StrictModel):
    count: int = Field(default=1, strict=True, ge=1, le=MAX_ACTIVITY_PER_CALL)


class ShareView(BaseModel):
    share_code: str
    guide_id: UUID
    kind: ShareKind
    shared_at: datetime
    visits: int
    add_to_carts: int
    orders: int
    payments: int


class FunnelDayView(BaseModel):
    day: str
    shares: int
    visits: int
    add_to_carts: int
    share_orders: int


@router.post(
    "/guides/{guide_id}/shares",
    operation_id="recordShare",
    status_code=status.HTTP_201_CREATED,
)
def record_share(
    guide_id: UUID,
    body: ShareRequest,
    engagement: EngagementDep,
    command: CommandDep,
    caller: Annotated[Caller, Depends(allow(Role.GUIDE))],
) -> Shared:
    """A guide records their own share (an admin may record one for them)."""
    result, code = engagement.share(command, guide_id, body.kind, body.sku_id)
    return Shared(id=result.id, version=result.version, share_code=code)


@router.post(
    "/shares/{share_code}/visits",
    operation_id="recordShareVisits",
    dependencies=[Depends(allow(Role.FRONTEND))],
)
def record_visits(
    share_code: Code, body: Activity, engagement: EngagementDep, command: CommandDep
) -> Accepted:
    return Accepted.of(engagement.record_visits(command, share_code, body.count))


@router.post(
    "/shares/{share_code}/add-to-carts",
    operation_id="recordShareAddToCarts",
    dependencies=[Depends(allow(Role.FRONTEND))],
)
def record_add_to_carts(
    share_code: Code, body: Activity, engagement: EngagementDep, command: CommandDep
) -> Accepted:
    return Accepted.of(engagement.record_add_to_carts(command, share_code, body.count))


@router.get(
    "/shares/{share_code}",
    operation_id="getShare",
    dependencies=[Depends(anyone)],
)
def get_share(share_code: Code, engagement: EngagementDep, rankings: RankingsDep) -> ShareView:
    share = engagement.get_share(share_code)
    funnel = rankings.share(share.share_code)
    return ShareView(
        share_code=share.share_code,
        guide_id=share.guide_id,
        kind=share.kind,
        shared_at=share.shared_at,
        visits=share.visits,
        add_to_carts=share.add_to_carts,
        orders=funnel.orders if funnel else 0,
        payments=funnel.payments if funnel else 0,
    )


@router.get("/guides/{guide_id}/funnel", operation_id="guideFunnel")
def guide_funnel(
    guide_id: UUID,
    organisation: OrganisationDep,
    rankings: RankingsDep,
    first: date,
    last: date,
    caller: Annotated[Caller, Depends(allow(Role.GUIDE, Role.FINANCE, Role.SUPPORT))],
) -> list[FunnelDayView]:
    guide = organisation.load(Guide, guide_id)
    return [
        FunnelDayView(**vars(d)) for d in rankings.funnel(guide.brand_id, guide_id, first, last)
    ]
