"""Guides (导购): each belongs to one store at a time, and may transfer or leave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import (
    natural_id,
    require_text,
    require_utc,
)
from guideledger.organisation.domain.units import StoreSnapshot


class GuideStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class Guide(Aggregate):
    """导购: belongs to one store at a time; may transfer or leave."""

    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("guide", brand_id, code)

    @classmethod
    def hire(
        cls,
        *,
        brand_id: UUID,
        code: str,
        name: str,
        store_id: UUID,
        occurred_at: datetime,
        actor: str,
    ) -> Guide:
        return cls(
            brand_id=brand_id,
            code=require_text("code", code, 64),
            name=require_text("name", name),
            store_id=store_id,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Hired(Aggregate.Created):
        brand_id: UUID
        code: str
        name: str
        store_id: UUID
        occurred_at: datetime
        actor: str

    @event(Hired)
    def __init__(
        self,
        brand_id: UUID,
        code: str,
        name: str,
        store_id: UUID,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.brand_id = brand_id
        self.code = code
        self.name = name
        self.store_id = store_id
        self.stores_served = frozenset({store_id})  # every store it has worked in
        self.status = GuideStatus.ACTIVE
        self.left_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status is GuideStatus.ACTIVE

    def transfer(self, to_store_id: UUID, occurred_at: datetime, actor: str) -> None:
        self._require_active()
        if to_store_id == self.store_id:
            raise RuleViolated("the guide already works in that store")
        self._record_transferred(self.store_id, to_store_id, require_utc(occurred_at), actor)

    class Transferred(Aggregate.Event):
        from_store_id: UUID
        to_store_id: UUID
        occurred_at: datetime
        actor: str

    @event(Transferred)
    def _record_transferred(
        self, from_store_id: UUID, to_store_id: UUID, occurred_at: datetime, actor: str
    ) -> None:
        self.store_id = to_store_id
        self.stores_served |= {to_store_id}

    def leave(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self._require_active()
        self._record_left(require_text("reason", reason), require_utc(occurred_at), actor)

    class Left(Aggregate.Event):
        reason: str
        occurred_at: datetime
        actor: str

    @event(Left)
    def _record_left(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = GuideStatus.LEFT
        self.left_at = occurred_at

    def _require_active(self) -> None:
        if not self.is_active:
            raise RuleViolated("the guide has left", guide_id=str(self.id))


@dataclass(frozen=True)
class GuideSnapshot:
    guide_id: UUID
    active: bool
    store: StoreSnapshot
