"""What the order queries answer: an order as it stands (or stood), its history and its
timeline, with a member's personal data shown only while their key exists."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from guideledger.api.schemas import Location, PositiveFen, StrictModel
from guideledger.attribution.domain.rules import Channel
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.domain.lines import Discount, Exchange, OrderLine, OrderStatus
from guideledger.orders.domain.order import Order


class DiscountBody(StrictModel):
    name: str = Field(min_length=1, max_length=100, description="What the customer sees")
    amount_fen: PositiveFen

    def to_domain(self) -> Discount:
        return Discount(self.name, self.amount_fen)


class Evidence(StrictModel):
    """What the customer came through, as the frontend saw it."""

    channel: Channel
    guide_id: UUID | None = None
    store_id: UUID | None = None
    share_code: str | None = Field(default=None, min_length=1, max_length=64)
    guide_note: str | None = Field(default=None, min_length=1, max_length=100)


class OrderLineView(BaseModel):
    line_no: int
    sku_id: UUID
    quantity: int
    unit_price_fen: int
    amount_fen: int
    paid_fen: int = Field(description="The line's share of the total, discounts taken off")
    shipped: int
    delivered: int
    returned: int
    exchanged: int

    @classmethod
    def of(cls, order: Order, line: OrderLine) -> OrderLineView:
        return cls(
            line_no=line.line_no,
            sku_id=line.sku_id,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            amount_fen=line.amount_fen,
            paid_fen=order.paid_for(line.line_no),
            shipped=order.shipped_quantity(line.line_no),
            delivered=order.delivered_quantity(line.line_no),
            returned=order.returned_quantity(line.line_no),
            exchanged=order.exchanged_quantity(line.line_no),
        )


class ExchangeView(BaseModel):
    exchange_id: str
    line_no: int = Field(description="The line the units came back from")
    quantity: int
    received_at_node_id: UUID
    replacement: OrderLineView = Field(
        description="The line shipped instead, at the same unit price, carrying what was paid "
        "for the units it replaces"
    )
    allocated_nodes: list[UUID] = Field(
        description="Where the replacement ships from; empty while it waits for stock"
    )

    @classmethod
    def of(cls, order: Order, exchange: Exchange) -> ExchangeView:
        replacement = exchange.replacement
        return cls(
            exchange_id=exchange.exchange_id,
            line_no=exchange.line_no,
            quantity=exchange.quantity,
            received_at_node_id=exchange.received_at_node_id,
            replacement=OrderLineView.of(order, replacement),
            allocated_nodes=[
                a.node_id for a in order.replacement_allocations if a.quantity(replacement.line_no)
            ],
        )


class ShipmentView(BaseModel):
    shipment_id: str
    node_id: UUID | None
    lines: dict[int, int]
    delivered: bool
    delivered_at: datetime | None


class DeliveryView(BaseModel):
    address: str | None = Field(description="null once the member has been forgotten")
    location: Location = Field(description="to about a kilometre once the member is forgotten")


class OrderView(BaseModel):
    id: UUID
    version: int
    brand_id: UUID
    member_id: UUID
    status: OrderStatus
    lines_fen: int
    discounts: list[DiscountBody]
    total_fen: int = Field(description="What the order asks: its lines less its discounts")
    paid_fen: int
    transaction_id: str | None = Field(description="The payment provider's, once paid")
    refunded_fen: int
    returned_fen: int = Field(description="What the returned units were paid, discounts off")
    refundable_fen: int
    placed_at: datetime
    payment_due_at: datetime
    paid_at: datetime | None = Field(description="When the payment provider took the money")
    delivered_at: datetime | None = Field(
        description="When the last parcel arrived, once every unit is delivered"
    )
    cancel_reason: str | None = Field(description="null once the member has been forgotten")
    awaiting_stock: bool = Field(
        description="No node could take it, or a replacement, yet; see the unroutable queue"
    )
    allocated_nodes: list[UUID] = Field(description="Where the lines sold ship from")
    lines: list[OrderLineView] = Field(description="The lines sold")
    exchanges: list[ExchangeView]
    shipments: list[ShipmentView]
    delivery: DeliveryView
    evidence: Evidence

    @classmethod
    def of(cls, order: Order, personal: PersonalData) -> OrderView:
        forgotten = personal.forgotten(order.member_id)
        return cls(
            id=order.id,
            version=order.version,
            brand_id=order.brand_id,
            member_id=order.member_id,
            status=order.status,
            lines_fen=order.lines_fen,
            discounts=[DiscountBody(name=d.name, amount_fen=d.amount_fen) for d in order.discounts],
            total_fen=order.total_fen,
            paid_fen=order.paid_fen,
            transaction_id=order.transaction_id,
            refunded_fen=order.refunded_fen,
            returned_fen=order.returned_fen,
            refundable_fen=order.refundable_fen,
            placed_at=order.placed_at,
            payment_due_at=order.payment_due_at,
            paid_at=order.paid_at,
            delivered_at=order.delivered_at,
            cancel_reason=personal.text(order.cancel_reason, forgotten),
            awaiting_stock=order.awaiting_stock,
            allocated_nodes=[a.node_id for a in order.allocations],
            lines=[OrderLineView.of(order, line) for line in order.lines],
            exchanges=[ExchangeView.of(order, e) for e in order.exchanges.values()],
            shipments=[
                ShipmentView(
                    shipment_id=s.shipment_id,
                    node_id=s.node_id,
                    lines=dict(s.quantities),
                    delivered=s.delivered,
                    delivered_at=s.delivered_at,
                )
                for s in order.shipments.values()
            ],
            delivery=DeliveryView(
                address=personal.text(order.delivery.address, forgotten),
                location=Location.from_domain(personal.point(order.delivery, forgotten)),
            ),
            evidence=Evidence(
                channel=order.evidence.channel,
                guide_id=order.evidence.guide_id,
                store_id=order.evidence.store_id,
                share_code=order.evidence.share_code,
                guide_note=personal.text(order.evidence.guide_note, forgotten),
            ),
        )


class HistoryEntryView(BaseModel):
    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]


class TimelineEntryView(BaseModel):
    occurred_at: datetime
    recorded_at: datetime
    source: str
    aggregate_id: UUID
    event: str
    actor: str
    data: dict[str, Any]
