"""The brand's organisation: brands, regions, districts, branches, nodes, guides.

Attribution and payouts need their history (a guide's store at the moment of an
order), so each is an event-sourced aggregate. Identities are natural: a brand's
code, and each other thing's code within its brand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.periods import SettlementCadence as SettlementCadence
from guideledger.kernel.periods import first_start_after, period_end, period_of
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


class GuideStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


def _require_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"unknown time zone {name!r}", field="time_zone") from None
    return name


class Brand(Aggregate):
    """Owns a catalogue, branches, stores, rules, a time zone and a settlement cadence."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return natural_id("brand", code)

    @classmethod
    def register(
        cls,
        code: str,
        name: str,
        time_zone: str,
        settlement_cadence: SettlementCadence,
        occurred_at: datetime,
        actor: str,
    ) -> Brand:
        return cls(
            code=require_text("code", code, 64),
            name=require_text("name", name),
            time_zone=_require_time_zone(time_zone),
            settlement_cadence=SettlementCadence(settlement_cadence),
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        code: str
        name: str
        time_zone: str
        settlement_cadence: str
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self,
        code: str,
        name: str,
        time_zone: str,
        settlement_cadence: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.code = code
        self.name = name
        self.time_zone = time_zone
        self.settlement_cadence = SettlementCadence(settlement_cadence)
        # (effective from, cadence), oldest first; the registered cadence has always held.
        self.cadences: list[tuple[datetime, SettlementCadence]] = [
            (datetime.min.replace(tzinfo=occurred_at.tzinfo), self.settlement_cadence)
        ]

    def cadence_at(self, moment: datetime) -> SettlementCadence:
        return [cadence for start, cadence in self.cadences if start <= moment][-1]

    def period_of(self, moment: datetime) -> str:
        """The settlement period containing `moment`, in this brand's zone and cadence."""
        return period_of(moment, self.time_zone, self.cadence_at(moment))

    def period_after(self, period: str) -> str:
        return self.period_of(period_end(period, self.time_zone))

    def change_settlement_cadence(
        self, cadence: SettlementCadence, occurred_at: datetime, actor: str
    ) -> datetime:
        """The new cadence starts once the current period has ended, at the first instant
        a period of the new cadence can begin: no period is ever cut short.

        Returns when it takes effect."""
        occurred_at = require_utc(occurred_at)
        cadence = SettlementCadence(cadence)
        if cadence == self.settlement_cadence:
            raise RuleViolated(f"the settlement cadence is already {cadence}")
        current = self.period_of(occurred_at)
        effective_from = first_start_after(
            period_end(current, self.time_zone), self.time_zone, cadence
        )
        self._record_cadence_changed(str(cadence), effective_from, occurred_at, actor)
        return effective_from

    class SettlementCadenceChanged(Aggregate.Event):
        cadence: str
        effective_from: datetime
        occurred_at: datetime
        actor: str

    @event(SettlementCadenceChanged)
    def _record_cadence_changed(
        self, cadence: str, effective_from: datetime, occurred_at: datetime, actor: str
    ) -> None:
        self.settlement_cadence = SettlementCadence(cadence)
        self.cadences.append((effective_from, self.settlement_cadence))


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
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        brand_id: UUID
        branch_id: UUID
        code: str
        name: str
        kind: str
        location: GeoPoint
        ownership: str | None
        district_id: UUID | None
        occurred_at: datetime
        actor: str

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
        self.paused = False
        self.pause_reason: str | None = None
        self.daily_order_cap: int | None = None

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
class StoreSnapshot:
    """A store's place in the organisation at one moment."""

    store_id: UUID
    branch_id: UUID
    district_id: UUID
    region_id: UUID


@dataclass(frozen=True)
class GuideSnapshot:
    guide_id: UUID
    active: bool
    store: StoreSnapshot
