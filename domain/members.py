"""Members: one identity across every store and brand of the group."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.values import natural_id, require_text, require_utc


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
        name: str,
        phone: str,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> Member:
        return cls(
            member_no=require_text("member_no", member_no, 64),
            name=require_text("name", name, 100),
            phone=require_text("phone", phone, 32),
            registered_at_store_id=registered_at_store_id,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    @event("Registered")
    def __init__(
        self,
        member_no: str,
        name: str,
        phone: str,
        registered_at_store_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.member_no = member_no
        self.name = name
        self.phone = phone
        self.registered_at_store_id = registered_at_store_id
