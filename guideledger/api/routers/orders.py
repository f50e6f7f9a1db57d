"""Order commands from frontends, and order queries for support. An order is paid only
by the payment provider's notification (`payments`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime, Field

from guideledger.api.auth import Caller, Role
from guideledger.api.dependencies import (
    CommandDep,
    CommissionsDep,
    ExchangesDep,
    OrderHistoryDep,
    OrdersDep,
    OwnersDep,
    PersonalDataDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.routers.order_views import (
    DiscountBody,
    Evidence,
    HistoryEntryView,
    OrderView,
    TimelineEntryView,
)
from guideledger.api.schemas import (
    Accepted,
    Code,
    Fen,
    Location,
    PositiveFen,
    Reason,
    StrictModel,
    VersionedChange,
)
from guideledger.api.tenancy import allow
from guideledger.attribution.domain.rules import AttributionEvidence
from guideledger.orders.application.app import DeliveryRequest, LineRequest
from guideledger.orders.domain.lines import (
    MAX_DISCOUNTS_PER_ORDER,
    MAX_QUANTITY_PER_LINE,
)
from guideledger.orders.domain.order import MAX_LINE_NO, MAX_LINES_PER_ORDER
from guideledger.support.timeline import order_timeline

router = APIRouter(tags=["orders"], responses=PROBLEM_RESPONSES)
ShipsParcels = Annotated[Caller, Depends(allow(Role.STORE_MANAGER))]

Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY_PER_LINE)]
LineNo = Annotated[int, Field(strict=True, ge=1, le=MAX_LINE_NO)]  # exchanges add lines


class PlaceOrderLine(StrictModel):
    sku_id: UUID
    quantity: Quantity
    unit_price_fen: Fen


class Delivery(StrictModel):
    address: str = Field(min_length=1, max_length=500)
    location: Location
    city: str | None = Field(default=None, min_length=1, max_length=64)


class PlaceOrder(StrictModel):
    brand_id: UUID
    member_id: UUID
    lines: list[PlaceOrderLine] = Field(min_length=1, max_length=MAX_LINES_PER_ORDER)
    discounts: list[DiscountBody] = Field(
        default_factory=list,
        max_length=MAX_DISCOUNTS_PER_ORDER,
        description="Taken off the whole order, together at most the lines' total",
    )
    delivery: Delivery
    evidence: Evidence


class CancelOrder(VersionedChange):
    reason: Reason


class ShipmentLine(StrictModel):
    line_no: LineNo
    quantity: Quantity


class ShipOrder(VersionedChange):
    shipment_id: Code
    node_id: UUID = Field(description="The allocated node the parcel leaves from")
    lines: list[ShipmentLine] = Field(min_length=1, max_length=MAX_LINES_PER_ORDER)


class ReturnItems(VersionedChange):
    return_id: Code
    line_no: LineNo
    quantity: Quantity
    reason: Reason


class ExchangeItems(VersionedChange):
    exchange_id: Code
    line_no: LineNo = Field(description="The delivered line the units come back from")
    quantity: Quantity
    sku_id: UUID = Field(
        description="The replacement: another SKU of the brand whose price in force is the "
        "line's unit price"
    )
    received_at_node_id: UUID = Field(description="The node whose stock the units go back to")


class RefundOrder(VersionedChange):
    refund_id: Code
    amount_fen: PositiveFen


@router.post("/orders", operation_id="placeOrder", status_code=status.HTTP_201_CREATED)
def place_order(
    body: PlaceOrder,
    orders: OrdersDep,
    command: CommandDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(allow(Role.FRONTEND))],
) -> Accepted:
    owners.admit(brand_id=body.brand_id, member_id=body.member_id)
    result = orders.place_order(
        command,
        brand_id=body.brand_id,
        member_id=body.member_id,
        lines=[LineRequest(x.sku_id, x.quantity, x.unit_price_fen) for x in body.lines],
        delivery=DeliveryRequest(
            body.delivery.address, body.delivery.location.to_domain(), body.delivery.city
        ),
        evidence=AttributionEvidence(**body.evidence.model_dump()),
        discounts=[discount.to_domain() for discount in body.discounts],
    )
    return Accepted.of(result)


@router.get(
    "/orders/{order_id}",
    operation_id="getOrder",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT, Role.FINANCE))],
)
def get_order(
    order_id: UUID,
    orders: OrdersDep,
    history: OrderHistoryDep,
    personal: PersonalDataDep,
    as_of: Annotated[
        AwareDatetime | None,
        Query(description="The order as it stood at this instant (with a time zone)"),
    ] = None,
) -> OrderView:
    if as_of is None:
        return OrderView.of(orders.get_order(order_id), personal)
    return OrderView.of(history.as_of(order_id, as_of), personal)


@router.get(
    "/orders/{order_id}/history",
    operation_id="getOrderHistory",
    dependencies=[Depends(allow(Role.SUPPORT, Role.FINANCE))],
)
def get_order_history(order_id: UUID, history: OrderHistoryDep) -> list[HistoryEntryView]:
    return [HistoryEntryView(**jsonable_encoder(entry)) for entry in history.entries(order_id)]


@router.get(
    "/orders/{order_id}/timeline",
    operation_id="getOrderTimeline",
    dependencies=[Depends(allow(Role.SUPPORT, Role.FINANCE))],
)
def get_order_timeline(
    order_id: UUID, history: OrderHistoryDep, commissions: CommissionsDep
) -> list[TimelineEntryView]:
    """The order's story across aggregates: its events, its stock, its commission postings."""
    return [
        TimelineEntryView(**jsonable_encoder(entry))
        for entry in order_timeline(history, commissions, order_id)
    ]


@router.post(
    "/orders/{order_id}/cancellation",
    operation_id="cancelOrder",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
)
def cancel_order(
    order_id: UUID, body: CancelOrder, orders: OrdersDep, command: CommandDep
) -> Accepted:
    result = orders.cancel(command, order_id, body.reason, body.expected_version)
    return Accepted.of(result)


@router.post("/orders/{order_id}/shipments", operation_id="shipOrder")
def ship_order(
    order_id: UUID,
    body: ShipOrder,
    orders: OrdersDep,
    command: CommandDep,
    caller: ShipsParcels,
    owners: OwnersDep,
) -> Accepted:
    owners.admit(node_id=body.node_id)
    quantities: dict[int, int] = {}
    for line in body.lines:
        quantities[line.line_no] = quantities.get(line.line_no, 0) + line.quantity
    result = orders.ship(
        command, order_id, body.shipment_id, body.node_id, quantities, body.expected_version
    )
    return Accepted.of(result)


@router.post(
    "/orders/{order_id}/shipments/{shipment_id}/delivery",
    operation_id="recordDelivery",
    dependencies=[Depends(allow(Role.STORE_MANAGER, Role.LOGISTICS))],
)
def record_delivery(
    order_id: UUID,
    shipment_id: Code,
    body: VersionedChange,
    orders: OrdersDep,
    command: CommandDep,
) -> Accepted:
    result = orders.deliver(command, order_id, shipment_id, body.expected_version)
    return Accepted.of(result)


@router.post(
    "/orders/{order_id}/returns",
    operation_id="returnItems",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
)
def return_items(
    order_id: UUID, body: ReturnItems, orders: OrdersDep, command: CommandDep
) -> Accepted:
    result = orders.return_items(
        command,
        order_id,
        return_id=body.return_id,
        line_no=body.line_no,
        quantity=body.quantity,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return Accepted.of(result)


@router.post(
    "/orders/{order_id}/exchanges",
    operation_id="exchangeItems",
)
def exchange_items(
    order_id: UUID,
    body: ExchangeItems,
    exchanges: ExchangesDep,
    command: CommandDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(allow(Role.FRONTEND, Role.SUPPORT))],
) -> Accepted:
    """Swaps delivered units of a line for as many of another SKU at the same price (a size
    or colour), with no new payment: the units go back to the receiving node's stock and
    the replacement, a new line of the order, is routed and reserved (or waits for stock)
    and then shipped like any line. Another price is refused (`exchange-price-differs`):
    return the units and place a new order instead. Commission stays as it was."""
    owners.admit(sku_id=body.sku_id, node_id=body.received_at_node_id)
    result = exchanges.exchange(
        command,
        order_id,
        exchange_id=body.exchange_id,
        line_no=body.line_no,
        quantity=body.quantity,
        sku_id=body.sku_id,
        received_at_node_id=body.received_at_node_id,
        expected_version=body.expected_version,
    )
    return Accepted.of(result)


@router.post(
    "/orders/{order_id}/refunds",
    operation_id="refundOrder",
    dependencies=[Depends(allow(Role.FINANCE, Role.SUPPORT))],
)
def refund_order(
    order_id: UUID, body: RefundOrder, orders: OrdersDep, command: CommandDep
) -> Accepted:
    result = orders.refund(
        command, order_id, body.refund_id, body.amount_fen, body.expected_version
    )
    return Accepted.of(result)
