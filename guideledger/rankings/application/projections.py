"""Read models for the rankings: daily sales and the share funnel.

Days are cut in the brand's time zone. A sale counts on the day it was paid;
its refunds and any attribution correction adjust that same day, so a day's
figures are "orders paid that day, net of what came back".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from guideledger.attribution.domain.rules import Attribution
from guideledger.engagement.domain import Share
from guideledger.kernel.periods import local_day
from guideledger.orders.domain import Order
from guideledger.readmodels.model import (
    ColumnType,
    Increment,
    Projection,
    RowChange,
    Table,
    Upsert,
    on,
)

TimeZoneOf = Callable[[UUID], str]  # brand id -> IANA time zone (fixed at registration)

_MONEY: dict[str, ColumnType] = {
    "paid_orders": "int",
    "sales_fen": "int",
    "online_sales_fen": "int",
    "refunds_fen": "int",
}
_ENGAGEMENT: dict[str, ColumnType] = {
    "shares": "int",
    "visits": "int",
    "add_to_carts": "int",
    "share_orders": "int",
}

SALES_BY_GUIDE_DAY = Table(
    name="sales_by_guide_day",
    key=("brand_id", "day", "guide_id", "store_id"),
    columns={
        "brand_id": "uuid",
        "day": "text",
        "guide_id": "uuid",
        "store_id": "uuid",
        "district_id": "uuid",
        "branch_id": "uuid",
        **_MONEY,
        **_ENGAGEMENT,
    },
    indexes=(("brand_id", "day", "store_id"), ("brand_id", "day", "district_id")),
)

SALES_BY_STORE_DAY = Table(
    name="sales_by_store_day",
    key=("brand_id", "day", "store_id"),
    columns={
        "brand_id": "uuid",
        "day": "text",
        "store_id": "uuid",
        "branch_id": "uuid",
        "district_id": "uuid",
        "region_id": "uuid",
        **_MONEY,
    },
)

SALES_BY_BRANCH_DAY = Table(
    name="sales_by_branch_day",
    key=("brand_id", "day", "branch_id"),
    columns={"brand_id": "uuid", "day": "text", "branch_id": "uuid", **_MONEY},
)

SHARE_FUNNEL = Table(
    name="share_funnel",
    key=("share_id",),
    columns={
        "share_id": "uuid",
        "share_code": "text",
        "brand_id": "uuid",
        "guide_id": "uuid",
        "store_id": "uuid",
        "day": "text",
        "kind": "text",
        "visits": "int",
        "add_to_carts": "int",
        "orders": "int",
        "payments": "int",
    },
    indexes=(("guide_id", "day"),),
)


class DailySales(Projection):
    """Paid sales, online sales and refunds per day by guide, store and branch."""

    name = "daily_sales"
    application = "orders"
    tables = (SALES_BY_GUIDE_DAY, SALES_BY_STORE_DAY, SALES_BY_BRANCH_DAY, SHARE_FUNNEL)

    def __init__(self, time_zone_of: TimeZoneOf) -> None:
        self.time_zone_of = time_zone_of

    @on(Order.Placed)
    def placed(self, event: Order.Placed) -> list[RowChange]:
        code = event.evidence.share_code
        return [_funnel(code, "orders")] if code else []

    @on(Order.Paid)
    def paid(self, event: Order.Paid) -> list[RowChange]:
        changes = self._sale(event.attribution, event.occurred_at, 1, event.amount_fen, 0)
        code = event.attribution.evidence.share_code if event.attribution else None
        if code:
            changes.append(_funnel(code, "payments"))
        return changes

    @on(Order.Refunded)
    def refunded(self, event: Order.Refunded) -> list[RowChange]:
        if event.paid_at is None:
            return []
        return self._sale(event.attribution, event.paid_at, 0, 0, event.amount_fen)

    @on(Order.AttributionCorrected)
    def corrected(self, event: Order.AttributionCorrected) -> list[RowChange]:
        if event.paid_at is None:
            return []
        paid, refunded = event.paid_fen, event.refunded_fen
        undo = self._sale(event.previous, event.paid_at, -1, -paid, -refunded)
        return undo + self._sale(event.attribution, event.paid_at, 1, paid, refunded)

    def _sale(
        self,
        attribution: Attribution | None,
        moment: datetime,
        orders: int,
        sales: int,
        refunds: int,
    ) -> list[RowChange]:
        if attribution is None or attribution.store_id is None:
            return []  # unattributed: counts for the brand only
        brand_id = attribution.brand_id
        day = local_day(moment, self.time_zone_of(brand_id))
        deltas = {
            "paid_orders": orders,
            "sales_fen": sales,
            "online_sales_fen": sales if attribution.channel.is_online else 0,
            "refunds_fen": refunds,
        }
        changes: list[RowChange] = [
            Increment(
                SALES_BY_STORE_DAY,
                (brand_id, day, attribution.store_id),
                deltas,
                fixed={
                    "branch_id": attribution.branch_id,
                    "district_id": attribution.district_id,
                    "region_id": attribution.region_id,
                },
            ),
            Increment(SALES_BY_BRANCH_DAY, (brand_id, day, attribution.branch_id), deltas),
        ]
        if attribution.guide_id is not None:
            through_share = attribution.evidence.share_code is not None
            changes.append(
                Increment(
                    SALES_BY_GUIDE_DAY,
                    (brand_id, day, attribution.guide_id, attribution.store_id),
                    {**deltas, "share_orders": orders if through_share else 0},
                    fixed={
                        "district_id": attribution.district_id,
                        "branch_id": attribution.branch_id,
                    },
                )
            )
        return changes


class DailyEngagement(Projection):
    """Shares, reach and add-to-carts per guide per day, and per share code."""

    name = "daily_engagement"
    application = "engagement"
    tables = (SALES_BY_GUIDE_DAY, SHARE_FUNNEL)

    def __init__(self, time_zone_of: TimeZoneOf) -> None:
        self.time_zone_of = time_zone_of

    @on(Share.Shared)
    def shared(self, event: Share.Shared) -> list[RowChange]:
        day = local_day(event.occurred_at, self.time_zone_of(event.brand_id))
        funnel = Upsert(
            SHARE_FUNNEL,
            (event.originator_id,),
            {
                "share_code": event.share_code,
                "brand_id": event.brand_id,
                "guide_id": event.guide_id,
                "store_id": event.store.store_id,
                "day": day,
                "kind": event.kind,
            },
        )
        return [_guide_day(event, day, "shares", 1), funnel]

    @on(Share.Visited)
    def visited(self, event: Share.Visited) -> list[RowChange]:
        return self._counted(event, "visits")

    @on(Share.AddedToCart)
    def added_to_cart(self, event: Share.AddedToCart) -> list[RowChange]:
        return self._counted(event, "add_to_carts")

    def _counted(self, event: Share.Visited | Share.AddedToCart, counter: str) -> list[RowChange]:
        day = local_day(event.occurred_at, self.time_zone_of(event.brand_id))
        share = Increment(SHARE_FUNNEL, (event.originator_id,), {counter: event.count})
        return [_guide_day(event, day, counter, event.count), share]


def _guide_day(
    event: Share.Shared | Share.Visited | Share.AddedToCart, day: str, counter: str, count: int
) -> Increment:
    store = event.store
    return Increment(
        SALES_BY_GUIDE_DAY,
        (event.brand_id, day, event.guide_id, store.store_id),
        {counter: count},
        fixed={"district_id": store.district_id, "branch_id": store.branch_id},
    )


def _funnel(share_code: str, counter: str) -> Increment:
    """Orders and payments through a share code, counted from the order events."""
    return Increment(SHARE_FUNNEL, (Share.create_id(share_code),), {counter: 1})
