"""The brand's organisation: regions, districts, branches, and the nodes (stores and
warehouses) that sell and ship. Attribution and payouts need its history (a store's place at
the moment of an order), so each is an event-sourced aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.values import (
    GeoPoint,
    natural_id,
    require_positive,
    require_text,
    require_utc,
)


class NodeKind(StrEnum):
    STORE = "store"
    WAREHOUSE = "warehouse"


class StoreOwnership(StrEnum):
    DIRECT = "direct"
    FRANCHISE = "franchise"


@dataclass(frozen=True)
class OpeningHours:
    """When a store is open each day, in the brand's time zone; it closes on the day it
    opens (no store here stays open past midnight)."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise InvalidValue("opening hours are local times, without an offset")
        if not self.opens < self.closes:
            raise InvalidValue("a store opens before it closes, on the same day")

    def is_open_at(self, local: time) -> bool:
        return self.opens <= local < self.closes


class Region(Aggregate):
    """大区: the management level above districts."""

    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("region", brand_id, code)

    @classmethod
    def register(
        cls, brand_id: UUID, code: str, name: str, occurred_at: datetime, actor: str
    ) -> Region:
        return cls(
            brand_id,
            require_text("code", code, 64),
            require_text("name", name),
            require_utc(occurred_at),
            actor,
        )

    class Registered(Aggregate.Created):
        brand_id: UUID
        code: str
        name: str
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self, brand_id: UUID, code: str, name: str, occurred_at: datetime, actor: str
    ) -> None:
        self.brand_id = brand_id
        self.code = code
        self.name = name


class District(Aggregate):
    """区: a group of stores under a district head, inside one region."""

    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("district", brand_id, code)

    @classmethod
    def register(
        cls,
        brand_id: UUID,
        region_id: UUID,
        code: str,
        name: str,
        occurred_at: datetime,
        actor: str,
    ) -> District:
        return cls(
            brand_id,
            region_id,
            require_text("code", code, 64),
            require_text("name", name),
            require_utc(occurred_at),
            actor,
        )

    class Registered(Aggregate.Created):
        brand_id: UUID
        region_id: UUID
        code: str
        name: str
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self,
        brand_id: UUID,
        region_id: UUID,
        code: str,
        name: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.brand_id = brand_id
        self.region_id = region_id
        self.code = code
        self.name = name


class Branch(Aggregate):
    """分公司: a branch company that owns the stores and warehouses of a region."""

    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("branch", brand_id, code)

    @classmethod
    def register(
        cls, brand_id: UUID, code: str, name: str, occurred_at: datetime, actor: str
    ) -> Branch:
        return cls(
            brand_id,
            require_text("code", code, 64),
            require_text("name", name),
            require_utc(occurred_at),
            actor,
        )

    class Registered(Aggregate.Created):
        brand_id: UUID
        code: str
        name: str
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self, brand_id: UUID, code: str, name: str, occurred_at: datetime, actor: str
    ) -> None:
        self.brand_id = brand_id
        self.code = code
        self.name = name


class Node(Aggregate):
    """A store or warehouse that can ship: the unit of stock and routing."""

    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("node", brand_id, code)

    @classmethod
    def register(
        cls,
        *,
        brand_id: UUID,
        branch_id: UUID,
        code: str,
        name: str,
        kind: NodeKind,
        location: GeoPoint,
        ownership: StoreOwnership | None,
        district_id: UUID | None,
        occurred_at: datetime,
        actor: str,
        city: str | None = None,
    ) -> Node:
        kind = NodeKind(kind)
        if kind is NodeKind.STORE and (ownership is None or district_id is None):
            raise InvalidValue("a store needs an ownership (direct or franchise) and a district")
        if kind is NodeKind.WAREHOUSE and (ownership is not None or district_id is not None):
            raise InvalidValue("a warehouse has no ownership and no district")
        return cls(
            brand_id=brand_id,
            branch_id=branch_id,
            code=require_text("code", code, 64),
            name=require_text("name", name),
            kind=str(kind),
            location=location,
            ownership=None if ownership is None else str(StoreOwnership(ownership)),
            district_id=district_id,
            city=None if city is None else require_text("city", city, 64),
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        """A node registered before version 2 has no city."""

        class_version = 2

        brand_id: UUID
        branch_id: UUID
        code: str
        name: str
        kind: str
        location: GeoPoint
        ownership: str | None
        district_id: UUID | None
        city: str | None
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["city"] = None

    @event(Registered)
    def __init__(
        self,
        brand_id: UUID,
        branch_id: UUID,
        code: str,
        name: str,
        kind: str,
        location: GeoPoint,
        ownership: str | None,
        district_id: UUID | None,
        city: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.brand_id = brand_id
        self.branch_id = branch_id
        self.code = code
        self.name = name
        self.kind = NodeKind(kind)
        self.location = location
        self.ownership = None if ownership is None else StoreOwnership(ownership)
        self.district_id = district_id
        self.city = city  # where sales count as in the store's city
        self.paused = False
        self.pause_reason: str | None = None
        self.daily_order_cap: int | None = None
        self.opening_hours: OpeningHours | None = None  # stores only, once set

    def pause(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.paused:
            raise RuleViolated("the node is already paused")
        self._record_paused(require_text("reason", reason), require_utc(occurred_at), actor)

    class Paused(Aggregate.Event):
        reason: str
        occurred_at: datetime
        actor: str

    @event(Paused)
    def _record_paused(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.paused = True
        self.pause_reason = reason

    def resume(self, occurred_at: datetime, actor: str) -> None:
        if not self.paused:
            raise RuleViolated("the node is not paused")
        self._record_resumed(require_utc(occurred_at), actor)

    class Resumed(Aggregate.Event):
        occurred_at: datetime
        actor: str

    @event(Resumed)
    def _record_resumed(self, occurred_at: datetime, actor: str) -> None:
        self.paused = False
        self.pause_reason = None

    def set_daily_order_cap(self, cap: int | None, occurred_at: datetime, actor: str) -> None:
        """`None` lifts the cap."""
        if cap is not None:
            require_positive("daily_order_cap", cap)
        if cap == self.daily_order_cap:
            raise RuleViolated("the daily order cap is already that value")
        self._record_cap_set(cap, require_utc(occurred_at), actor)

    class DailyOrderCapSet(Aggregate.Event):
        cap: int | None
        occurred_at: datetime
        actor: str

    @event(DailyOrderCapSet)
    def _record_cap_set(self, cap: int | None, occurred_at: datetime, actor: str) -> None:
        self.daily_order_cap = cap

    def set_opening_hours(self, hours: OpeningHours, occurred_at: datetime, actor: str) -> None:
        if self.kind is not NodeKind.STORE:
            raise RuleViolated("only a store has opening hours")
        if hours == self.opening_hours:
            raise RuleViolated("the store already has those opening hours")
        opens, closes = hours.opens.isoformat("minutes"), hours.closes.isoformat("minutes")
        self._record_opening_hours_set(opens, closes, require_utc(occurred_at), actor)

    class OpeningHoursSet(Aggregate.Event):
        """`opens` and `closes` as HH:MM in the brand's time zone."""

        opens: str
        closes: str
        occurred_at: datetime
        actor: str

    @event(OpeningHoursSet)
    def _record_opening_hours_set(
        self, opens: str, closes: str, occurred_at: datetime, actor: str
    ) -> None:
        self.opening_hours = OpeningHours(time.fromisoformat(opens), time.fromisoformat(closes))


@dataclass(frozen=True)
class StoreSnapshot:
    """A store's place in the organisation at one moment."""

    store_id: UUID
    branch_id: UUID
    district_id: UUID
    region_id: UUID
