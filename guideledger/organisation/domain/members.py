"""Members: one identity across every store and brand of the group."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import natural_id, require_text, require_utc


class Member(Aggregate):
    """会员. Identified by the member number the mall issues."""

    @staticmethod
    def create_id(member_no: str) -> UUID:
        return natural_id("member", member_no)

    @classmethod
    def register(
        cls,
        *,
        member_no: str,
        name: Sealed,
        phone: Sealed,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> Member:
        """`name` and `phone` arrive sealed under this member's key."""
        return cls(
            member_no=require_text("member_no", member_no, 64),
            name=name,
            phone=phone,
            registered_at_store_id=registered_at_store_id,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        member_no: str
        name: Sealed
        phone: Sealed
        registered_at_store_id: UUID | None
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self,
        member_no: str,
        name: Sealed,
        phone: Sealed,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
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
