"""The sales read models: sales per day by guide, store and branch, and the orders and
payments through each share code.

A sale counts on the brand-local day it was paid, which the order events carry
(`sales_day`); its refunds and any attribution correction adjust that same day, so a
day's figures are "orders paid that day, net of what came back". A guide's shares and
reach are the engagement context's; the rankings put the two together.

These tables replace `sales_by_guide_day`, `sales_by_store_day`, `sales_by_branch_day`
and `share_funnel`, which the former `daily_sales` and `daily_engagement` projections
wrote together: under new names they are built from the log on their first catch-up,
and the old tables can be dropped.
"""

from __future__ import annotations

from guideledger.attribution.domain.rules import Attribution
from guideledger.orders.domain.order import Order
from guideledger.readmodels.model import ColumnType, Increment, Projection, RowChange, Table, on

_MONEY: dict[str, ColumnType] = {
    "paid_orders": "int",
    "sales_fen": "int",
    "online_sales_fen": "int",
    "refunds_fen": "int",
}

GUIDE_SALES_BY_DAY = Table(
    name="guide_sales_by_day",
    key=("brand_id", "day", "guide_id", "store_id"),
    columns={
        "brand_id": "uuid",
        "day": "text",
        "guide_id": "uuid",
        "store_id": "uuid",
        "district_id": "uuid",
        "branch_id": "uuid",
        **_MONEY,
        "share_orders": "int",  # paid orders that came through one of the guide's shares
    },
    indexes=(("brand_id", "day", "store_id"), ("brand_id", "day", "district_id")),
)

STORE_SALES_BY_DAY = Table(
    name="store_sales_by_day",
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

BRANCH_SALES_BY_DAY = Table(
    name="branch_sales_by_day",
    key=("brand_id", "day", "branch_id"),
    columns={"brand_id": "uuid", "day": "text", "branch_id": "uuid", **_MONEY},
)

SHARE_SALES = Table(
    name="share_sales",
    key=("share_code",),  # as the order's evidence names the share
    columns={"share_code": "text", "orders": "int", "payments": "int"},
)


class SalesByDay(Projection):
    """Paid sales, online sales and refunds per day by guide, store and branch."""

    name = "sales_by_day"
    application = "orders"
    tables = (GUIDE_SALES_BY_DAY, STORE_SALES_BY_DAY, BRANCH_SALES_BY_DAY)

    @on(Order.Paid)
    def paid(self, event: Order.Paid) -> list[RowChange]:
        return _sale(event.attribution, event.sales_day, 1, event.amount_fen, 0)

    @on(Order.Refunded)
    def refunded(self, event: Order.Refunded) -> list[RowChange]:
        if event.sales_day is None:
            return []
        return _sale(event.attribution, event.sales_day, 0, 0, event.amount_fen)

    @on(Order.AttributionCorrected)
    def corrected(self, event: Order.AttributionCorrected) -> list[RowChange]:
        if event.sales_day is None:
            return []
        day, paid, refunded = event.sales_day, event.paid_fen, event.refunded_fen
        undo = _sale(event.previous, day, -1, -paid, -refunded)
        return undo + _sale(event.attribution, day, 1, paid, refunded)


def _sale(
    attribution: Attribution | None, day: str, orders: int, sales: int, refunds: int
) -> list[RowChange]:
    if attribution is None or attribution.store_id is None:
        return []  # unattributed: counts for the brand only
    brand_id = attribution.brand_id
    deltas = {
        "paid_orders": orders,
        "sales_fen": sales,
        "online_sales_fen": sales if attribution.channel.is_online else 0,
        "refunds_fen": refunds,
    }
    changes: list[RowChange] = [
        Increment(
            STORE_SALES_BY_DAY,
            (brand_id, day, attribution.store_id),
            deltas,
            fixed={
                "branch_id": attribution.branch_id,
                "district_id": attribution.district_id,
                "region_id": attribution.region_id,
            },
        ),
        Increment(BRANCH_SALES_BY_DAY, (brand_id, day, attribution.branch_id), deltas),
    ]
    if attribution.guide_id is not None:
        through_share = attribution.evidence.share_code is not None
        changes.append(
            Increment(
                GUIDE_SALES_BY_DAY,
                (brand_id, day, attribution.guide_id, attribution.store_id),
                {**deltas, "share_orders": orders if through_share else 0},
                fixed={"district_id": attribution.district_id, "branch_id": attribution.branch_id},
            )
        )
    return changes


class ShareSales(Projection):
    """Orders placed and paid through each share code (its reach is the engagement
    context's `ShareReach`)."""

    name = "share_sales"
    application = "orders"
    tables = (SHARE_SALES,)

    @on(Order.Placed)
    def placed(self, event: Order.Placed) -> list[RowChange]:
        return _through_share(event.evidence.share_code, "orders")

    @on(Order.Paid)
    def paid(self, event: Order.Paid) -> list[RowChange]:
        attribution = event.attribution
        return _through_share(attribution.evidence.share_code if attribution else None, "payments")


def _through_share(share_code: str | None, counter: str) -> list[RowChange]:
    if not share_code:
        return []
    return [Increment(SHARE_SALES, (share_code,), {counter: 1})]
