"""Members: one identity across every store and brand of the group."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import require_text, require_utc
from guideledger.organisation.domain.group import FOUNDING_GROUP_ID, group_scoped_id


class Member(Aggregate):
    """会员. Identified by the member number the group's mall issues.

    The number is personal (it is often the member's phone number): it is recorded sealed
    like the name and phone; the member's id is derived from it and the group, so the number
    still finds the member (members registered before numbers were sealed recorded it in the
    clear)."""

    @staticmethod
    def create_id(group_id: UUID, member_no: str) -> UUID:
        return group_scoped_id("member", group_id, member_no)

    @classmethod
    def register(
        cls,
        *,
        group_id: UUID,
        member_id: UUID,
        member_no: Sealed,
        name: Sealed,
        phone: Sealed,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> Member:
        """`member_no`, `name` and `phone` arrive sealed under this member's key; the id is
        `create_id` of the group and the number, which only the caller saw in the clear."""
        if any(sealed.member_id != member_id for sealed in (member_no, name, phone)):
            raise InvalidValue("personal data must be sealed under the member's own key")
        return cls._create(
            cls.Registered,
            id=member_id,
            group_id=group_id,
            member_no=member_no,
            name=name,
            phone=phone,
            registered_at_store_id=registered_at_store_id,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        group_id: UUID
        member_no: Sealed | str
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
        member_no: Sealed | str,
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
