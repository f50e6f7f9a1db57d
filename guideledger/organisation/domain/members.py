"""Members: one identity across every store and brand of the group."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import require_text, require_utc
from guideledger.organisation.domain.group import FOUNDING_GROUP_ID, group_scoped_id


class Member(Aggregate):
    """会员. Identified by the member number the group's mall issues."""

    @staticmethod
    def create_id(group_id: UUID, member_no: str) -> UUID:
        return group_scoped_id("member", group_id, member_no)

    @classmethod
    def register(
        cls,
        *,
        group_id: UUID,
        member_no: str,
        name: Sealed,
        phone: Sealed,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> Member:
        """`name` and `phone` arrive sealed under this member's key."""
        return cls(
            group_id=group_id,
            member_no=require_text("member_no", member_no, 64),
            name=name,
            phone=phone,
            registered_at_store_id=registered_at_store_id,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        group_id: UUID
        member_no: str
        name: Sealed
        phone: Sealed
        registered_at_store_id: UUID | None
        occurred_at: datetime
        actor: str

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["group_id"] = FOUNDING_GROUP_ID

    @event(Registered)
    def __init__(
        self,
        group_id: UUID,
        member_no: str,
        name: Sealed,
        phone: Sealed,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.group_id = group_id
        self.member_no = member_no
        self.name = name
        self.phone = phone
        self.registered_at_store_id = registered_at_store_id
        self.forgotten = False

    def forget(self, reason: str, occurred_at: datetime, actor: str) -> None:
        """Records that the member's key was deleted: their personal data is gone."""
        if self.forgotten:
            raise RuleViolated("the member is already forgotten")
        self._record_forgotten(require_text("reason", reason, 500), require_utc(occurred_at), actor)

    class Forgotten(Aggregate.Event):
        reason: str
        occurred_at: datetime
        actor: str

    @event(Forgotten)
    def _record_forgotten(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.forgotten = True
