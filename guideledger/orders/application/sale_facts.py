"""One row per paid order, holding what the managers' measures need: the brand-local day
it counts on, the store and branch it is attributed to and the channel, when it was paid,
the city it goes to, what came back, and whether a node of another branch ships it.

The measures (sales through guides' shares, cross-city sales, sales after the store's
closing time, cross-branch fulfilment) are sums over these rows for a brand, branch or store and a
range of days; `rankings.application.measures` computes them.
"""

from __future__ import annotations

from guideledger.attribution.domain.rules import Attribution, AttributionChannel
from guideledger.orders.domain.order import Order
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert, on

SHARE_CHANNELS = {
    AttributionChannel.GUIDE_SHARE_LINK: "link",
    AttributionChannel.GUIDE_QR: "qr",
    AttributionChannel.LIVE_STREAM_FORWARD: "live_stream",
}

SALE_FACTS = Table(
    name="sale_facts",
    key=("order_id",),
    columns={
        "order_id": "uuid",
        "brand_id": "uuid",
        "day": "text",
        "store_id": "uuid",
        "branch_id": "uuid",
        "share_channel": "text",  # "link", "qr" or "live_stream" through a guide's share
        "paid_at": "timestamp",
        "delivery_city": "text",  # as the frontend named it, if it did
        "sales_fen": "int",
        "refunds_fen": "int",
        "cross_branch_nodes": "int",  # allocations at nodes of a branch other than the seller's
    },
    indexes=(("brand_id", "day"),),
)


class SaleFacts(Projection):
    """Each paid order's day, payee store and branch, channel, payment time, delivery city
    and refunds, and how many of its allocations ship across branches."""

    name = "sale_facts"
    application = "orders"
    tables = (SALE_FACTS,)

    @on(Order.Placed)
    def placed(self, event: Order.Placed) -> list[RowChange]:
        if event.delivery.city is None:
            return []
        city = {"delivery_city": event.delivery.city}
        return [Upsert(SALE_FACTS, (event.originator_id,), city)]

    @on(Order.Paid)
    def paid(self, event: Order.Paid) -> list[RowChange]:
        if event.attribution is None:
            return []
        row = {
            **_payee(event.attribution),
            "brand_id": event.attribution.brand_id,
            "day": event.sales_day,
            "paid_at": event.occurred_at,
            "sales_fen": event.amount_fen,
        }
        return [Upsert(SALE_FACTS, (event.originator_id,), row)]

    @on(Order.Refunded)
    def refunded(self, event: Order.Refunded) -> list[RowChange]:
        if event.sales_day is None:
            return []
        deltas = {"refunds_fen": event.amount_fen}
        return [Increment(SALE_FACTS, (event.originator_id,), deltas)]

    @on(Order.AttributionCorrected)
    def corrected(self, event: Order.AttributionCorrected) -> list[RowChange]:
        if event.sales_day is None:
            return []
        return [Upsert(SALE_FACTS, (event.originator_id,), _payee(event.attribution))]

    @on(Order.Allocated)
    def allocated(self, event: Order.Allocated) -> list[RowChange]:
        seller = event.selling_branch_id
        across = sum(1 for a in event.decision.allocations if seller and a.branch_id != seller)
        if not across:
            return []
        deltas = {"cross_branch_nodes": across}
        return [Increment(SALE_FACTS, (event.originator_id,), deltas)]


def _payee(attribution: Attribution) -> dict[str, object]:
    return {
        "store_id": attribution.store_id,
        "branch_id": attribution.branch_id,
        "share_channel": SHARE_CHANNELS.get(attribution.channel),
    }
