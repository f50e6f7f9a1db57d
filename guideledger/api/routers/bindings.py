"""Member bindings: which guide a member is bound to in a brand, and the binding's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from guideledger.api.auth import Caller, Role
from guideledger.api.dependencies import BindingsDep, CommandDep, OwnersDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Reason, StrictModel
from guideledger.api.tenancy import allow
from guideledger.kernel.errors import NotFound

router = APIRouter(tags=["attribution"], responses=PROBLEM_RESPONSES)


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
    status_code=status.HTTP_201_CREATED,
)
def bind_member(
    member_id: UUID,
    body: BindMember,
    bindings: BindingsDep,
    command: CommandDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(allow(Role.SUPPORT))],
) -> Accepted:
    """Support rebinds; otherwise a member is bound by their first attributed purchase."""
    owners.admit(brand_id=body.brand_id)
    result = bindings.bind(command, member_id, body.brand_id, body.guide_id, body.reason)
    return Accepted.of(result)


@router.get(
    "/members/{member_id}/bindings/{brand_id}",
    operation_id="getMemberBinding",
    dependencies=[Depends(allow(Role.SUPPORT))],
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
