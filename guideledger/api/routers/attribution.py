"""Attribution: whom an order's sale is credited to, its corrections, and each brand's
attribution policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.auth import Role
from guideledger.api.dependencies import (
    AttributionDep,
    ClockDep,
    CommandDep,
    CorrectionsDep,
    OrdersDep,
    PersonalDataDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Reason, StrictModel, VersionedChange
from guideledger.api.tenancy import allow, anyone
from guideledger.attribution.domain.rules import (
    DEFAULT_PRECEDENCE,
    Attribution,
    AttributionChannel,
    AttributionPolicy,
    BindingMode,
    Rule,
)

router = APIRouter(tags=["attribution"], responses=PROBLEM_RESPONSES)


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
    def of(cls, a: Attribution, guide_note: str | None) -> AttributionView:
        """`guide_note`: the evidence's note as the member's data may be shown."""
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
            evidence={**vars(a.evidence), "guide_note": guide_note},
        )


class CorrectAttribution(VersionedChange):
    guide_id: UUID | None = Field(default=None, description="Give the guide, or")
    store_id: UUID | None = Field(default=None, description="the store the sale belongs to")
    reason: Reason


@router.get(
    "/orders/{order_id}/attribution",
    operation_id="getOrderAttribution",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT, Role.FINANCE))],
)
def order_attribution(
    order_id: UUID, orders: OrdersDep, personal: PersonalDataDep
) -> AttributionView:
    order = orders.get_order(order_id)
    assert order.attribution is not None, "every placed order is attributed"
    forgotten = personal.forgotten(order.member_id)
    note = personal.text(order.attribution.evidence.guide_note, forgotten)
    return AttributionView.of(order.attribution, note)


@router.post(
    "/orders/{order_id}/attribution-corrections",
    operation_id="correctOrderAttribution",
    dependencies=[Depends(allow(Role.SUPPORT))],
)
def correct_attribution(
    order_id: UUID, body: CorrectAttribution, corrections: CorrectionsDep, command: CommandDep
) -> Accepted:
    result = corrections.correct(
        command,
        order_id,
        guide_id=body.guide_id,
        store_id=body.store_id,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return Accepted.of(result)


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
    return Accepted.of(
        attribution.publish_policy(
            command, brand_id, draft, effective_now=body.effective_from is None
        )
    )


@router.get(
    "/brands/{brand_id}/attribution-policies",
    operation_id="listAttributionPolicies",
    dependencies=[Depends(anyone)],
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
