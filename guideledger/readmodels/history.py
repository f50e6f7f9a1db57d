"""One aggregate's life as support reads it: each fact, when it happened, who did it and
its data. Orders and member bindings are read this way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from guideledger.readmodels.model import event_data, event_name


@dataclass(frozen=True)
class HistoryEntry:
    """One fact in an aggregate's life, for support."""

    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]


class Fact(Protocol):
    """What every recorded fact carries besides its own data."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    occurred_at: datetime
    actor: str


def history_entry(fact: Fact) -> HistoryEntry:
    return HistoryEntry(
        version=fact.originator_version,
        event=event_name(fact),
        occurred_at=fact.occurred_at,
        recorded_at=fact.timestamp,
        actor=fact.actor,
        data=event_data(fact),
    )
