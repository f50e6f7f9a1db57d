"""The published-events contract: a small, versioned set of integration events.

These are not the domain events: a warehouse or a payroll system reads them without
knowing how the ledger is built, and they change only by a new version. Each event is
an envelope (type, version, a stable event id, the group and brand, the position in the
ledger's log it was derived from, when it happened) around its `data`; the JSON Schema
of each type is in `schemas/<type>.v<version>.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any
from uuid import UUID, uuid5

CONTRACT_VERSION = 1
EVENT_ID_NAMESPACE = UUID("6f1d2c58-1b7e-4d6c-9a59-3c1f2e0b7a41")


class EventType(StrEnum):
    ORDER_ALLOCATED = "order.allocated"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_REFUNDED = "order.refunded"
    ORDER_EXCHANGED = "order.exchanged"
    STATEMENT_CLOSED = "statement.closed"
    STATEMENT_PAID = "statement.paid"


@dataclass(frozen=True)
class Position:
    """Where in the ledger an integration event comes from: the log (an application's
    name), the notification id in it, and the domain event (aggregate and version)."""

    log: str
    notification_id: int
    aggregate_id: UUID
    aggregate_version: int


@dataclass(frozen=True)
class IntegrationEvent:
    type: EventType
    group_id: UUID
    brand_id: UUID
    position: Position
    occurred_at: datetime
    data: dict[str, Any]

    @property
    def event_id(self) -> str:
        """The same for every re-send of the event: the message id a broker de-duplicates by."""
        return str(event_id(self.position))

    def subject(self, prefix: str) -> str:
        return f"{prefix}.{self.group_id}.{self.type}"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "version": CONTRACT_VERSION,
            "event_id": self.event_id,
            "group_id": str(self.group_id),
            "brand_id": str(self.brand_id),
            "position": {
                "log": self.position.log,
                "notification_id": self.position.notification_id,
                "aggregate_id": str(self.position.aggregate_id),
                "aggregate_version": self.position.aggregate_version,
            },
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }

    def body(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()


def event_id(position: Position) -> UUID:
    """One domain event gives at most one integration event, so its identity is the id."""
    return uuid5(
        EVENT_ID_NAMESPACE,
        f"{position.log}/{position.aggregate_id}/{position.aggregate_version}",
    )


def schema(event_type: EventType, version: int = CONTRACT_VERSION) -> dict[str, Any]:
    """The JSON Schema of one event type, as kept in the repository."""
    text = resources.files("guideledger.feed").joinpath(f"schemas/{event_type}.v{version}.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded
