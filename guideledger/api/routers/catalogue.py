"""The catalogue: a brand's SKUs, their prices and their promotion prices."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import AwareDatetime, Field

from guideledger.api.dependencies import CommandDep, OrganisationDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import (
    Accepted,
    Code,
    FromAttributes,
    Name,
    PositiveFen,
    StrictModel,
    VersionedChange,
)
from guideledger.api.tenancy import allow, anyone
from guideledger.kernel.values import natural_id
from guideledger.organisation.domain.catalogue import Sku

router = APIRouter(tags=["catalogue"], responses=PROBLEM_RESPONSES)


class RegisterSku(StrictModel):
    code: Code
    name: Name
    category: Code
    price_fen: PositiveFen


class ChangeSkuPrice(VersionedChange):
    price_fen: PositiveFen


class PublishPromotion(VersionedChange):
    name: Name
    price_fen: PositiveFen
    effective_from: AwareDatetime | None = Field(
        default=None, description="Now if absent; never in the past"
    )
    effective_to: AwareDatetime = Field(description="The first instant it no longer applies")


class PromotionView(FromAttributes):
    name: str
    price_fen: int
    effective_from: datetime
    effective_to: datetime


class SkuView(FromAttributes):
    id: UUID
    version: int
    brand_id: UUID
    code: str
    name: str
    category: str
    price_fen: int = Field(description="The list price")
    promotions: list[PromotionView]


@router.post(
    "/brands/{brand_id}/skus",
    operation_id="registerSku",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def register_sku(
    brand_id: UUID, body: RegisterSku, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.register_sku(
        command,
        brand_id=brand_id,
        code=body.code,
        name=body.name,
        category=body.category,
        price_fen=body.price_fen,
    )
    return Accepted.of(result)


@router.get(
    "/skus/{sku_id}",
    operation_id="getSku",
    dependencies=[Depends(anyone)],
)
def get_sku(sku_id: UUID, organisation: OrganisationDep) -> SkuView:
    return SkuView.model_validate(organisation.load(Sku, sku_id))


@router.get(
    "/brands/{brand_id}/skus/by-code/{code}",
    operation_id="getSkuByCode",
    dependencies=[Depends(anyone)],
)
def get_sku_by_code(brand_id: UUID, code: Code, organisation: OrganisationDep) -> SkuView:
    return SkuView.model_validate(organisation.load(Sku, natural_id("sku", brand_id, code)))


@router.put(
    "/skus/{sku_id}/price",
    operation_id="changeSkuPrice",
    dependencies=[Depends(allow())],
)
def change_sku_price(
    sku_id: UUID, body: ChangeSkuPrice, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.change_sku_price(command, sku_id, body.price_fen, body.expected_version)
    return Accepted.of(result)


@router.post(
    "/skus/{sku_id}/promotions",
    operation_id="publishSkuPromotion",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def publish_sku_promotion(
    sku_id: UUID, body: PublishPromotion, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    """While it runs, the promotion's price is the only one an order line may carry."""
    result = organisation.publish_promotion(
        command,
        sku_id,
        name=body.name,
        price_fen=body.price_fen,
        effective_from=body.effective_from,
        effective_to=body.effective_to,
        expected_version=body.expected_version,
    )
    return Accepted.of(result)
