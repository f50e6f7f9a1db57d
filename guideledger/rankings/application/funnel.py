"""The share funnel of a guide, a store, a district or a branch over a range of days: the
shares made those days, then what came of them (visits, add-to-carts, orders placed and
paid through them), with the conversion from each step to the next.

It follows the shares made in the range to whatever they brought since, so a range's
later steps keep growing for a while after it ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from guideledger.engagement.application.projections import (
    GUIDE_ENGAGEMENT_BY_DAY,
    SHARE_REACH,
    EngagementByDay,
    ShareReach,
)
from guideledger.kernel.errors import InvalidValue
from guideledger.orders.application.sales import SHARE_SALES, ShareSales
from guideledger.rankings.application.rankings import days_between
from guideledger.readmodels.model import ReadModels

STEPS = ("shares", "visits", "add_to_carts", "orders", "payments")


@dataclass(frozen=True)
class FunnelStep:
    step: str
    count: int
    conversion: float | None  # of the step before (None for the first, or after a zero)


@dataclass(frozen=True)
class Funnel:
    shares: int = 0
    visits: int = 0
    add_to_carts: int = 0
    orders: int = 0
    payments: int = 0

    def steps(self) -> list[FunnelStep]:
        counts = [getattr(self, step) for step in STEPS]
        return [
            FunnelStep(step, count, (count / counts[n - 1]) if n and counts[n - 1] else None)
            for n, (step, count) in enumerate(zip(STEPS, counts, strict=True))
        ]


def share_funnel(
    read_models: ReadModels,
    brand_id: UUID,
    first: date,
    last: date,
    *,
    guide_id: UUID | None = None,
    store_id: UUID | None = None,
    district_id: UUID | None = None,
    branch_id: UUID | None = None,
) -> Funnel:
    """Exactly one of guide, store, district and branch."""
    if sum(x is not None for x in (guide_id, store_id, district_id, branch_id)) != 1:
        raise InvalidValue("follow the shares of one guide, store, district or branch")
    days = days_between(first, last)
    for projection in (EngagementByDay, ShareReach, ShareSales):
        read_models.catch_up(projection)
    where: dict[str, Any] = {"brand_id": brand_id, "day": days}
    if guide_id is not None:
        where["guide_id"] = guide_id
    elif store_id is not None:
        where["store_id"] = store_id
    else:
        unit = {"district_id": district_id} if district_id else {"branch_id": branch_id}
        where["store_id"] = _stores_sharing(read_models, {**where, **unit})
    no_store = where.get("store_id") == []  # a district or branch with no shares those days
    shares = [] if no_store else read_models.select(SHARE_REACH, where)
    codes = [row["share_code"] for row in shares]
    sold = read_models.select(SHARE_SALES, {"share_code": codes}) if codes else []
    return Funnel(
        len(shares),
        _sum(shares, "visits"),
        _sum(shares, "add_to_carts"),
        _sum(sold, "orders"),
        _sum(sold, "payments"),
    )


def _stores_sharing(read_models: ReadModels, where: dict[str, Any]) -> list[UUID]:
    """The district's or branch's stores its guides shared from on those days (a share
    counts at the store it was made from, whose district and branch the engagement rows
    carry)."""
    rows = read_models.select(GUIDE_ENGAGEMENT_BY_DAY, where)
    return sorted({row["store_id"] for row in rows}, key=str)


def _sum(rows: Iterable[dict[str, Any]], column: str) -> int:
    return sum(row[column] or 0 for row in rows)
