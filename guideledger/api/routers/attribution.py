"""Attribution, member bindings, guides' shares and the morning rankings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.auth import Caller, Role, allow, current_caller, require_own
from guideledger.api.dependencies import (
    AttributionDep,
    BindingsDep,
    ClockDep,
    CommandDep,
    EngagementDep,
    OrdersDep,
    OrganisationDep,
    RankingsDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Code, Reason, StrictModel, VersionedChange
from guideledger.attribution.domain.rules import (
    DEFAULT_PRECEDENCE,
    Attribution,
    AttributionChannel,
    AttributionPolicy,
    BindingMode,
    Rule,
)
from guideledger.engagement.domain import MAX_ACTIVITY_PER_CALL, ShareKind
from guideledger.kernel.errors import NotFound
from guideledger.organisation.domain.guides import Guide
from guideledger.rankings.application.rankings import GuideMeasure, StoreMeasure

router = APIRouter(responses=PROBLEM_RESPONSES)
Day = Annotated[date | None, Query(description="A day in the brand's time zone; default yesterday")]


class AttributionView(BaseModel):
    channel: AttributionChannel
    rule: str
    policy_version: int
    guide_id: UUID | None
    store_id: UUID | None
    branch_id: UUID | None
    district_id: UUID | None
    region_id: UUID | None
    notes: list[str]
    evidence: dict[str, Any]

    @classmethod
    def of(cls, a: Attribution) -> AttributionView:
        return cls(
            channel=a.channel,
            rule=a.rule,
            policy_version=a.policy_version,
            guide_id=a.guide_id,
            store_id=a.store_id,
            branch_id=a.branch_id,
            district_id=a.district_id,
            region_id=a.region_id,
            notes=list(a.notes),
            evidence={k: v for k, v in vars(a.evidence).items()},
        )


class CorrectAttribution(VersionedChange):
    guide_id: UUID | None = Field(default=None, description="Give the guide, or")
    store_id: UUID | None = Field(default=None, description="the store the sale belongs to")
    reason: Reason


@router.get(
    "/orders/{order_id}/attribution",
    operation_id="getOrderAttribution",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT, Role.FINANCE))],
    tags=["attribution"],
)
def order_attribution(order_id: UUID, orders: OrdersDep) -> AttributionView:
    order = orders.get_order(order_id)
    assert order.attribution is not None, "every placed order is attributed"
    return AttributionView.of(order.attribution)


@router.post(
    "/orders/{order_id}/attribution-corrections",
    operation_id="correctOrderAttribution",
    dependencies=[Depends(allow(Role.SUPPORT))],
    tags=["attribution"],
)
def correct_attribution(
    order_id: UUID, body: CorrectAttribution, attribution: AttributionDep, command: CommandDep
) -> Accepted:
    result = attribution.correct(
        command,
        order_id,
        guide_id=body.guide_id,
        store_id=body.store_id,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return Accepted.of(result)


class BindMember(StrictModel):
    brand_id: UUID
    guide_id: UUID
    reason: Reason


class BindingEntry(BaseModel):
    event: str
    occurred_at: datetime
    actor: str
    guide_id: UUID | None
    reason: str


class BindingView(BaseModel):
    member_id: UUID
    brand_id: UUID
    guide_id: UUID | None
    protected_until: datetime | None
    history: list[BindingEntry]


@router.post(
    "/members/{member_id}/bindings",
    operation_id="bindMember",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
    tags=["attribution"],
    status_code=status.HTTP_201_CREATED,
)
def bind_member(
    member_id: UUID, body: BindMember, bindings: BindingsDep, command: CommandDep
) -> Accepted:
    result = bindings.bind(command, member_id, body.brand_id, body.guide_id, body.reason)
    return Accepted.of(result)


@router.get(
    "/members/{member_id}/bindings/{brand_id}",
    operation_id="getMemberBinding",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
    tags=["attribution"],
)
def member_binding(member_id: UUID, brand_id: UUID, bindings: BindingsDep) -> BindingView:
    binding = bindings.current(member_id, brand_id)
    if binding is None:
        raise NotFound("the member has never been bound in this brand")
    history = [
        BindingEntry(
            event=entry.event,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            guide_id=entry.data.get("guide_id"),
            reason=entry.data.get("reason", ""),
        )
        for entry in bindings.history(member_id, brand_id)
    ]
    return BindingView(
        member_id=member_id,
        brand_id=brand_id,
        guide_id=binding.guide_id,
        protected_until=binding.protected_until,
        history=history,
    )


class PublishAttributionPolicy(StrictModel):
    precedence: list[Rule] = Field(default=list(DEFAULT_PRECEDENCE), min_length=1, max_length=4)
    binding_mode: BindingMode = BindingMode.FIRST_TOUCH
    protection_days: int = Field(default=90, strict=True, ge=0, le=3650)
    effective_from: AwareDatetime | None = Field(default=None, description="Defaults to now")


class AttributionPolicyView(BaseModel):
    version: int
    effective_from: datetime
    precedence: list[Rule]
    binding_mode: BindingMode
    protection_days: int


@router.post(
    "/brands/{brand_id}/attribution-policies",
    operation_id="publishAttributionPolicy",
    dependencies=[Depends(allow())],
    tags=["attribution"],
    status_code=status.HTTP_201_CREATED,
)
def publish_attribution_policy(
    brand_id: UUID,
    body: PublishAttributionPolicy,
    attribution: AttributionDep,
    clock: ClockDep,
    command: CommandDep,
) -> Accepted:
    draft = AttributionPolicy(
        precedence=tuple(body.precedence),
        binding_mode=body.binding_mode,
        protection_days=body.protection_days,
        effective_from=body.effective_from or clock.now(),
    )
    return Accepted.of(attribution.publish_policy(command, brand_id, draft))


@router.get(
    "/brands/{brand_id}/attribution-policies",
    operation_id="listAttributionPolicies",
    dependencies=[Depends(current_caller)],
    tags=["attribution"],
)
def attribution_policies(
    brand_id: UUID, attribution: AttributionDep
) -> list[AttributionPolicyView]:
    return [
        AttributionPolicyView(
            version=p.version,
            effective_from=p.effective_from,
            precedence=list(p.precedence),
            binding_mode=p.binding_mode,
            protection_days=p.protection_days,
        )
        for p in attribution.policies(brand_id)
    ]


# --- shares and their funnel -----------------------------------------------------------


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


@router.post(
    "/guides/{guide_id}/shares",
    operation_id="recordShare",
    tags=["engagement"],
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
    require_own(caller, guide_id=guide_id)
    result, code = engagement.share(command, guide_id, body.kind, body.sku_id)
    return Shared(id=result.id, version=result.version, share_code=code)


@router.post(
    "/shares/{share_code}/visits",
    operation_id="recordShareVisits",
    dependencies=[Depends(allow(Role.FRONTEND))],
    tags=["engagement"],
)
def record_visits(
    share_code: Code, body: Activity, engagement: EngagementDep, command: CommandDep
) -> Accepted:
    return Accepted.of(engagement.record_visits(command, share_code, body.count))


@router.post(
    "/shares/{share_code}/add-to-carts",
    operation_id="recordShareAddToCarts",
    dependencies=[Depends(allow(Role.FRONTEND))],
    tags=["engagement"],
)
def record_add_to_carts(
    share_code: Code, body: Activity, engagement: EngagementDep, command: CommandDep
) -> Accepted:
    return Accepted.of(engagement.record_add_to_carts(command, share_code, body.count))


@router.get(
    "/shares/{share_code}",
    operation_id="getShare",
    dependencies=[Depends(current_caller)],
    tags=["engagement"],
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


# --- rankings and daily figures ------------------------------------------------------------


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


class DayView(BaseModel):
    day: str
    sales: SalesView


class FunnelDayView(BaseModel):
    day: str
    shares: int
    visits: int
    add_to_carts: int
    share_orders: int


@router.get(
    "/brands/{brand_id}/rankings/stores",
    operation_id="rankStores",
    dependencies=[Depends(allow(Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT, Role.GUIDE))],
    tags=["rankings"],
)
def rank_stores(
    brand_id: UUID,
    rankings: RankingsDep,
    day: Day = None,
    measure: StoreMeasure = StoreMeasure.TOTAL,
) -> list[StoreRankView]:
    return [
        StoreRankView(
            rank=r.rank,
            store_id=r.store_id,
            branch_id=r.branch_id,
            district_id=r.district_id,
            sales=_sales(r.sales),
        )
        for r in rankings.stores(brand_id, day, measure)
    ]


@router.get(
    "/brands/{brand_id}/rankings/guides",
    operation_id="rankGuides",
    dependencies=[Depends(allow(Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT, Role.GUIDE))],
    tags=["rankings"],
)
def rank_guides(
    brand_id: UUID,
    rankings: RankingsDep,
    day: Day = None,
    store_id: UUID | None = None,
    district_id: UUID | None = None,
    measure: GuideMeasure = GuideMeasure.SALES,
) -> list[GuideRankView]:
    ranks = rankings.guides(
        brand_id, day, store_id=store_id, district_id=district_id, measure=measure
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
        )
        for r in ranks
    ]


@router.get("/brands/{brand_id}/sales/daily", operation_id="dailySales", tags=["rankings"])
def daily_sales(
    brand_id: UUID,
    rankings: RankingsDep,
    first: date,
    last: date,
    caller: Annotated[
        Caller, Depends(allow(Role.STORE_MANAGER, Role.FINANCE, Role.SUPPORT, Role.GUIDE))
    ],
    store_id: UUID | None = None,
    branch_id: UUID | None = None,
    guide_id: UUID | None = None,
) -> list[DayView]:
    require_own(caller, guide_id=guide_id, store_id=store_id)
    days = rankings.daily_sales(
        brand_id, first, last, store_id=store_id, branch_id=branch_id, guide_id=guide_id
    )
    return [DayView(day=d.day, sales=_sales(d.sales)) for d in days]


@router.get("/guides/{guide_id}/funnel", operation_id="guideFunnel", tags=["engagement"])
def guide_funnel(
    guide_id: UUID,
    organisation: OrganisationDep,
    rankings: RankingsDep,
    first: date,
    last: date,
    caller: Annotated[Caller, Depends(allow(Role.GUIDE, Role.FINANCE, Role.SUPPORT))],
) -> list[FunnelDayView]:
    require_own(caller, guide_id=guide_id)
    guide = organisation.load(Guide, guide_id)
    return [
        FunnelDayView(**vars(d)) for d in rankings.funnel(guide.brand_id, guide_id, first, last)
    ]
