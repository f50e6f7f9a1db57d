"""The catalogue (SKUs) and members."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Role, allow, current_caller
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
from guideledger.kernel.privacy import Vault
from guideledger.kernel.values import natural_id
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.members import Member

router = APIRouter(responses=PROBLEM_RESPONSES)


class RegisterSku(StrictModel):
    code: Code
    name: Name
    category: Code
    price_fen: PositiveFen


class ChangeSkuPrice(VersionedChange):
    price_fen: PositiveFen


class SkuView(FromAttributes):
    id: UUID
    version: int
    brand_id: UUID
    code: str
    name: str
    category: str
    price_fen: int


@router.post(
    "/brands/{brand_id}/skus",
    operation_id="registerSku",
    dependencies=[Depends(allow())],
    tags=["catalogue"],
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
    dependencies=[Depends(current_caller)],
    tags=["catalogue"],
)
def get_sku(sku_id: UUID, organisation: OrganisationDep) -> SkuView:
    return SkuView.model_validate(organisation.load(Sku, sku_id))


@router.get(
    "/brands/{brand_id}/skus/by-code/{code}",
    operation_id="getSkuByCode",
    dependencies=[Depends(current_caller)],
    tags=["catalogue"],
)
def get_sku_by_code(brand_id: UUID, code: Code, organisation: OrganisationDep) -> SkuView:
    return SkuView.model_validate(organisation.load(Sku, natural_id("sku", brand_id, code)))


@router.put(
    "/skus/{sku_id}/price",
    operation_id="changeSkuPrice",
    dependencies=[Depends(allow())],
    tags=["catalogue"],
)
def change_sku_price(
    sku_id: UUID, body: ChangeSkuPrice, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.change_sku_price(command, sku_id, body.price_fen, body.expected_version)
    return Accepted.of(result)


class RegisterMember(StrictModel):
    member_no: Code
    name: Name
    phone: str = Field(min_length=3, max_length=32, pattern=r"^\+?[0-9 -]+$")
    registered_at_store_id: UUID | None = None


class MemberView(BaseModel):
    id: UUID
    version: int
    member_no: str
    name: str | None = Field(description="null once the member has been forgotten")
    phone: str | None
    registered_at_store_id: UUID | None
    forgotten: bool

    @classmethod
    def of(cls, member: Member, vault: Vault) -> MemberView:
        return cls(
            id=member.id,
            version=member.version,
            member_no=member.member_no,
            name=vault.unseal(member.name),
            phone=vault.unseal(member.phone),
            registered_at_store_id=member.registered_at_store_id,
            forgotten=member.forgotten,
        )


class ForgetMember(StrictModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/members",
    operation_id="registerMember",
    dependencies=[Depends(allow(Role.FRONTEND))],
    tags=["members"],
    status_code=status.HTTP_201_CREATED,
)
def register_member(
    body: RegisterMember, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.register_member(
        command,
        member_no=body.member_no,
        name=body.name,
        phone=body.phone,
        registered_at_store_id=body.registered_at_store_id,
    )
    return Accepted.of(result)


@router.get(
    "/members/{member_id}",
    operation_id="getMember",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
    tags=["members"],
)
def get_member(member_id: UUID, organisation: OrganisationDep) -> MemberView:
    return MemberView.of(organisation.load(Member, member_id), organisation.vault)


@router.get(
    "/members/by-number/{member_no}",
    operation_id="getMemberByNumber",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
    tags=["members"],
)
def get_member_by_number(member_no: Code, organisation: OrganisationDep) -> MemberView:
    member = organisation.load(Member, Member.create_id(member_no))
    return MemberView.of(member, organisation.vault)


@router.post(
    "/members/{member_id}/forget",
    operation_id="forgetMember",
    dependencies=[Depends(allow(Role.SUPPORT))],
    tags=["members"],
)
def forget_member(
    member_id: UUID, body: ForgetMember, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    """Deletes the member's key: their personal data in every event becomes unreadable;
    orders, attribution and the ledger stay whole."""
    return Accepted.of(organisation.forget_member(command, member_id, body.reason))
