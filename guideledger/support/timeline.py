"""An order's whole story across aggregates, for support: the order's own events,
the stock it reserved, shipped and restocked, and the commission it moved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.orders.application.history import OrderHistory
from guideledger.readmodels.model import event_data, event_name


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    recorded_at: datetime
    source: str  # order, stock or commission
    aggregate_id: UUID
    event: str
    actor: str
    data: dict[str, Any]


def order_timeline(
    history: OrderHistory, commissions: CommissionApplication, order_id: UUID
) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(h.occurred_at, h.recorded_at, "order", order_id, h.event, h.actor, h.data)
        for h in history.entries(order_id)
    ]
    for event in history.stock_facts(order_id):
        entries.append(_entry("stock", event, event.occurred_at, event.actor))
    for moved in commissions.events.get(CommissionAccrual.create_id(order_id)):
        entries.append(_entry("commission", moved, _moved_at(moved), "system:ledger"))
    return sorted(entries, key=lambda e: (e.occurred_at, e.recorded_at))


POSTED = (
    CommissionAccrual.Accrued,
    CommissionAccrual.Matured,
    CommissionAccrual.Reversed,
    CommissionAccrual.Reaccrued,
    CommissionAccrual.Corrected,
)


def _moved_at(event: Any) -> datetime:
    """When the commission moved: its posting's instant, the delivery it starts counting
    from, or else when it was recorded."""
    if isinstance(event, POSTED) and event.posting is not None:
        return event.posting.occurred_at
    if isinstance(event, CommissionAccrual.DeliveryRecorded):
        return event.delivered_at
    recorded_at: datetime = event.timestamp
    return recorded_at


def _entry(source: str, event: Any, occurred_at: datetime, actor: str) -> TimelineEntry:
    return TimelineEntry(
        occurred_at,
        event.timestamp,
        source,
        event.originator_id,
        event_name(event),
        actor,
        event_data(event),
    )
