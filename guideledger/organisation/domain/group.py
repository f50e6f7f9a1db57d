"""The group (集团): the tenant. It owns brands and one member base.

Facts recorded before groups existed belong to the founding group, whose ids keep the
form they had then (see `group_scoped_id`), so stored brands and members keep their ids.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.values import natural_id, require_text, require_utc

FOUNDING_GROUP_CODE = "founding"
FOUNDING_GROUP_ID = natural_id("group", FOUNDING_GROUP_CODE)


def group_scoped_id(kind: str, group_id: UUID, code: str) -> UUID:
    """The natural id of a thing whose code is unique within its group."""
    if group_id == FOUNDING_GROUP_ID:
        return natural_id(kind, code)
    return natural_id(kind, group_id, code)


class Group(Aggregate):
    """集团: one mall and one member base for one or more brands."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return natural_id("group", code)

    @classmethod
    def register(cls, code: str, name: str, occurred_at: datetime, actor: str) -> Group:
        return cls(
            code=require_text("code", code, 64),
            name=require_text("name", name),
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        code: str
        name: str
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(self, code: str, name: str, occurred_at: datetime, actor: str) -> None:
        self.code = code
        self.name = name
