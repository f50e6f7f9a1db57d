"""A brand: its code, time zone and settlement cadence (which may change from a period on).

Identities are natural: a brand's code, and each other thing's code within its brand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.periods import SettlementCadence, first_start_after, period_end, period_of
from guideledger.kernel.values import require_text, require_utc
from guideledger.organisation.domain.group import FOUNDING_GROUP_ID, group_scoped_id


def _require_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"unknown time zone {name!r}", field="time_zone") from None
    return name


class Brand(Aggregate):
    """Owns a catalogue, branches, stores, rules, a time zone and a settlement cadence."""

    @staticmethod
    def create_id(group_id: UUID, code: str) -> UUID:
        return group_scoped_id("brand", group_id, code)

    @classmethod
    def register(
        cls,
        group_id: UUID,
        code: str,
        name: str,
        time_zone: str,
        settlement_cadence: SettlementCadence,
        occurred_at: datetime,
        actor: str,
    ) -> Brand:
        return cls(
            group_id=group_id,
            code=require_text("code", code, 64),
            name=require_text("name", name),
            time_zone=_require_time_zone(time_zone),
            settlement_cadence=SettlementCadence(settlement_cadence),
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        group_id: UUID
        code: str
        name: str
        time_zone: str
        settlement_cadence: str
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
        code: str,
        name: str,
        time_zone: str,
        settlement_cadence: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.group_id = group_id
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

    def periods_between(self, start: datetime, end: datetime) -> list[str]:
        """The periods holding an instant from `start` to `end`, oldest first."""
        periods = []
        moment = require_utc(start)
        while moment <= end:
            periods.append(self.period_of(moment))
            moment = period_end(periods[-1], self.time_zone)
        return periods

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
