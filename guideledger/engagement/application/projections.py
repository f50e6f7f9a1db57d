"""The engagement read models: each guide's shares, reach and add-to-carts per day, and
each share's reach.

Each event carries the brand-local day it counts on and the store the guide shared
from. Paid orders through a share are the orders context's (`SalesByDay`,
`ShareSales`); the rankings put the two together.

These tables replace the engagement columns of `sales_by_guide_day` and
`share_funnel`, which the former `daily_engagement` projection wrote together with the
sales projection: under new names they are built from the log on their first catch-up,
and the old tables can be dropped.
"""

from __future__ import annotations

from guideledger.engagement.domain import Share
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert, on

GUIDE_ENGAGEMENT_BY_DAY = Table(
    name="guide_engagement_by_day",
    key=("brand_id", "day", "guide_id", "store_id"),
    columns={
        "brand_id": "uuid",
        "day": "text",
        "guide_id": "uuid",
        "store_id": "uuid",
        "district_id": "uuid",
        "branch_id": "uuid",
        "shares": "int",
        "visits": "int",
        "add_to_carts": "int",
    },
    indexes=(("brand_id", "day", "store_id"), ("brand_id", "day", "district_id")),
)

SHARE_REACH = Table(
    name="share_reach",
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
    },
    indexes=(("share_code",),),
)

Activity = Share.Shared | Share.Visited | Share.AddedToCart


class EngagementByDay(Projection):
    """Shares, reach and add-to-carts per guide (and the store shared from) per day."""

    name = "engagement_by_day"
    application = "engagement"
    tables = (GUIDE_ENGAGEMENT_BY_DAY,)

    @on(Share.Shared)
    def shared(self, event: Share.Shared) -> list[RowChange]:
        return [_guide_day(event, "shares", 1)]

    @on(Share.Visited)
    def visited(self, event: Share.Visited) -> list[RowChange]:
        return [_guide_day(event, "visits", event.count)]

    @on(Share.AddedToCart)
    def added_to_cart(self, event: Share.AddedToCart) -> list[RowChange]:
        return [_guide_day(event, "add_to_carts", event.count)]


def _guide_day(event: Activity, counter: str, count: int) -> Increment:
    store = event.store
    return Increment(
        GUIDE_ENGAGEMENT_BY_DAY,
        (event.brand_id, event.day, event.guide_id, store.store_id),
        {counter: count},
        fixed={"district_id": store.district_id, "branch_id": store.branch_id},
    )


class ShareReach(Projection):
    """Each share: who shared what from which store on which day, and its visits and
    add-to-carts."""

    name = "share_reach"
    application = "engagement"
    tables = (SHARE_REACH,)

    @on(Share.Shared)
    def shared(self, event: Share.Shared) -> list[RowChange]:
        share = {
            "share_code": event.share_code,
            "brand_id": event.brand_id,
            "guide_id": event.guide_id,
            "store_id": event.store.store_id,
            "day": event.day,
            "kind": event.kind,
        }
        return [Upsert(SHARE_REACH, (event.originator_id,), share)]

    @on(Share.Visited)
    def visited(self, event: Share.Visited) -> list[RowChange]:
        return [Increment(SHARE_REACH, (event.originator_id,), {"visits": event.count})]

    @on(Share.AddedToCart)
    def added_to_cart(self, event: Share.AddedToCart) -> list[RowChange]:
        return [Increment(SHARE_REACH, (event.originator_id,), {"add_to_carts": event.count})]
