"""Members: registered by the frontends, their personal data sealed, forgotten on request."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Caller, Role
from guideledger.api.dependencies import CommandDep, OrganisationDep, OwnersDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Code, Name, StrictModel
from guideledger.api.tenancy import allow, tenant
from guideledger.kernel.privacy import Sealed, Vault
from guideledger.organisation.domain.members import Member

router = APIRouter(tags=["members"], responses=PROBLEM_RESPONSES)


class RegisterMember(StrictModel):
    member_no: Code
    name: Name
    phone: str = Field(min_length=3, max_length=32, pattern=r"^\+?[0-9 -]+$")
    registered_at_store_id: UUID | None = None


class MemberView(BaseModel):
    id: UUID
    version: int
    member_no: str | None = Field(description="null once the member has been forgotten")
    name: str | None = Field(description="null once the member has been forgotten")
    phone: str | None
    registered_at_store_id: UUID | None
    forgotten: bool

    @classmethod
    def of(cls, member: Member, vault: Vault) -> MemberView:
        return cls(
            id=member.id,
            version=member.version,
            member_no=_opened(member.member_no, member.id, vault),
            name=vault.unseal(member.name),
            phone=vault.unseal(member.phone),
            registered_at_store_id=member.registered_at_store_id,
            forgotten=member.forgotten,
        )


def _opened(value: Sealed | str, member_id: UUID, vault: Vault) -> str | None:
    """A sealed value opened; one recorded in the clear before such values were sealed is
    shown only while the member's key exists."""
    if isinstance(value, Sealed):
        return vault.unseal(value)
    return value if vault.holds_key(member_id) else None


class ForgetMember(StrictModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/members", operation_id="registerMember", status_code=status.HTTP_201_CREATED)
def register_member(
    body: RegisterMember,
    organisation: OrganisationDep,
    command: CommandDep,
    caller: Annotated[Caller, Depends(allow(Role.FRONTEND))],
    owners: OwnersDep,
) -> Accepted:
    """A member of the caller's group."""
    owners.admit(store_id=body.registered_at_store_id)
    result = organisation.register_member(
        command,
        group_id=tenant(caller),
        member_no=body.member_no,
        name=body.name,
        phone=body.phone,
        registered_at_store_id=body.registered_at_store_id,
    )
    return Accepted.of(result)


@router.get(
    "/members/{member_id}",
    operation_id="getMember",
    dependencies=[Depends(allow(Role.SUPPORT, Role.GUIDE))],
)
def get_member(member_id: UUID, organisation: OrganisationDep) -> MemberView:
    return MemberView.of(organisation.load(Member, member_id), organisation.vault)


@router.get("/members/by-number/{member_no}", operation_id="getMemberByNumber")
def get_member_by_number(
    member_no: Code,
    organisation: OrganisationDep,
    caller: Annotated[Caller, Depends(allow(Role.SUPPORT))],
) -> MemberView:
    """The caller's group's member with that number."""
    member = organisation.load(Member, Member.create_id(tenant(caller), member_no))
    return MemberView.of(member, organisation.vault)


@router.post(
    "/members/{member_id}/forget",
    operation_id="forgetMember",
    dependencies=[Depends(allow(Role.SUPPORT))],
)
def forget_member(
    member_id: UUID, body: ForgetMember, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    """Deletes the member's key: their personal data in every event becomes unreadable;
    orders, attribution and the ledger stay whole."""
    return Accepted.of(organisation.forget_member(command, member_id, body.reason))
