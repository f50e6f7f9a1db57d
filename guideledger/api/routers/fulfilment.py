"""Stock, routing decisions and their explanations, the unroutable queue, routing policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.auth import Caller, Role
from guideledger.api.dependencies import (
    ClockDep,
    CommandDep,
    OrdersDep,
    PersonalDataDep,
    RoutingDep,
    StockDep,
    WaitingOrdersDep,
)
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Location, Reason, StrictModel, VersionedChange
from guideledger.api.tenancy import allow, anyone
from guideledger.fulfilment.application.stock_control import StockControl
from guideledger.fulfilment.domain.routing import (
    LineDemand,
    Outcome,
    RoutingDecision,
    RoutingPolicy,
)
from guideledger.orders.domain.lines import MAX_QUANTITY_PER_LINE
from guideledger.orders.domain.order import MAX_LINES_PER_ORDER, Order

router = APIRouter(tags=["fulfilment"], responses=PROBLEM_RESPONSES)
KeepsStock = Annotated[Caller, Depends(allow(Role.STORE_MANAGER))]

StockQuantity = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Page = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class ReceiveStock(StrictModel):
    quantity: StockQuantity
    reference: str = Field(min_length=1, max_length=100, description="ASN or transfer number")


class AdjustStock(VersionedChange):
    delta: int = Field(strict=True, ge=-1_000_000, le=1_000_000, description="Not zero")
    reason: Reason


class StockPositionView(BaseModel):
    node_id: UUID
    sku_id: UUID
    on_hand: int
    reserved: int
    available: int


DISTANCE = (
    "From the delivery area (about a kilometre) for decisions recorded with an order; "
    "null once the order's member has been forgotten"
)


class AllocatedLineView(BaseModel):
    line_no: int
    sku_id: UUID
    quantity: int


class AllocationView(BaseModel):
    node_id: UUID
    kind: str
    branch_id: UUID
    distance_km: float | None = Field(description=DISTANCE)
    band: int
    cross_branch: bool
    lines: list[AllocatedLineView]


class CandidateView(BaseModel):
    node_id: UUID
    kind: str
    distance_km: float | None = Field(description=DISTANCE)
    band: int
    outcome: Outcome
    reason: str
    rank: int | None


class RoutingDecisionView(BaseModel):
    policy_version: int
    routable: bool
    reason: str
    selling_branch_id: UUID | None = None
    allocations: list[AllocationView]
    candidates: list[CandidateView]

    @classmethod
    def of(
        cls, decision: RoutingDecision, order: Order | None = None, distances: bool = True
    ) -> RoutingDecisionView:
        """`distances=False` leaves out how far the nodes were (their bands stay)."""
        return cls(
            policy_version=decision.policy_version,
            routable=decision.routable,
            reason=decision.reason,
            selling_branch_id=order.selling_branch_id if order else None,
            allocations=[
                AllocationView(
                    node_id=a.node_id,
                    kind=a.kind,
                    branch_id=a.branch_id,
                    distance_km=a.distance_km if distances else None,
                    band=a.band,
                    cross_branch=order.is_cross_branch(a) if order else False,
                    lines=[AllocatedLineView(**vars(line)) for line in a.lines],
                )
                for a in decision.allocations
            ],
            candidates=[
                CandidateView(**{**vars(c), "distance_km": c.distance_km if distances else None})
                for c in decision.candidates
            ],
        )


class DryRunLine(StrictModel):
    sku_id: UUID
    quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY_PER_LINE)


class DryRun(StrictModel):
    lines: list[DryRunLine] = Field(min_length=1, max_length=MAX_LINES_PER_ORDER)
    location: Location


class WaitingOrderView(BaseModel):
    order_id: UUID
    reason: str
    since: datetime


class Rerouted(BaseModel):
    allocated: list[UUID]


class PublishRoutingPolicy(StrictModel):
    distance_band_km: int = Field(default=10, strict=True, ge=1, le=1000)
    max_shipments: int = Field(default=2, strict=True, ge=1, le=5)
    split_search_limit: int = Field(default=20, strict=True, ge=2, le=40)
    prefer_warehouse: bool = True
    effective_from: AwareDatetime | None = Field(default=None, description="Defaults to now")


class RoutingPolicyView(BaseModel):
    version: int
    effective_from: datetime
    distance_band_km: int
    max_shipments: int
    split_search_limit: int
    prefer_warehouse: bool


@router.post(
    "/nodes/{node_id}/stock/{sku_id}/receipts",
    operation_id="receiveStock",
    status_code=status.HTTP_201_CREATED,
)
def receive_stock(
    node_id: UUID,
    sku_id: UUID,
    body: ReceiveStock,
    stock: StockDep,
    command: CommandDep,
    caller: KeepsStock,
) -> Accepted:
    result = stock.receive(command, node_id, sku_id, body.quantity, body.reference)
    return Accepted.of(result)


@router.post("/nodes/{node_id}/stock/{sku_id}/adjustments", operation_id="adjustStock")
def adjust_stock(
    node_id: UUID,
    sku_id: UUID,
    body: AdjustStock,
    stock: StockDep,
    command: CommandDep,
    caller: KeepsStock,
) -> Accepted:
    result = stock.adjust(command, node_id, sku_id, body.delta, body.reason, body.expected_version)
    return Accepted.of(result)


def _positions(stock: StockControl, **where: UUID) -> list[StockPositionView]:
    return [StockPositionView(**vars(p), available=p.available) for p in stock.positions(**where)]


@router.get(
    "/nodes/{node_id}/stock",
    operation_id="getStockByNode",
    dependencies=[Depends(allow(Role.FRONTEND, Role.STORE_MANAGER, Role.SUPPORT, Role.FINANCE))],
)
def stock_by_node(node_id: UUID, stock: StockDep) -> list[StockPositionView]:
    return _positions(stock, node_id=node_id)


@router.get("/skus/{sku_id}/stock", operation_id="getStockBySku")
def stock_by_sku(
    sku_id: UUID,
    stock: StockDep,
    caller: Annotated[
        Caller, Depends(allow(Role.FRONTEND, Role.STORE_MANAGER, Role.SUPPORT, Role.FINANCE))
    ],
) -> list[StockPositionView]:
    """Every node's stock of the SKU; a store manager's store's only."""
    if caller.role is Role.STORE_MANAGER and caller.store_id is not None:
        return _positions(stock, sku_id=sku_id, node_id=caller.store_id)
    return _positions(stock, sku_id=sku_id)


@router.get(
    "/orders/{order_id}/routing",
    operation_id="getOrderRouting",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
)
def order_routing(
    order_id: UUID, orders: OrdersDep, personal: PersonalDataDep
) -> RoutingDecisionView | None:
    """The routing decision with every candidate's outcome; null before any routing. Once
    the member is forgotten, without distances: an order routed before they were measured
    from the delivery area recorded them from the exact point."""
    order = orders.get_order(order_id)
    if order.routing is None:
        return None
    distances = not personal.forgotten(order.member_id)
    return RoutingDecisionView.of(order.routing, order, distances)


@router.post(
    "/brands/{brand_id}/routing/dry-run",
    operation_id="dryRunRouting",
    dependencies=[Depends(allow(Role.FRONTEND, Role.SUPPORT))],
)
def dry_run(brand_id: UUID, body: DryRun, routing: RoutingDep) -> RoutingDecisionView:
    """Routes a hypothetical order now; reserves and records nothing."""
    lines = [
        LineDemand(n, line.sku_id, line.quantity) for n, line in enumerate(body.lines, start=1)
    ]
    return RoutingDecisionView.of(routing.dry_run(brand_id, lines, body.location.to_domain()))


@router.get(
    "/brands/{brand_id}/unroutable-orders",
    operation_id="listUnroutableOrders",
    dependencies=[Depends(allow(Role.SUPPORT))],
)
def unroutable_orders(
    brand_id: UUID, waiting_orders: WaitingOrdersDep, limit: Page = 100, offset: Offset = 0
) -> list[WaitingOrderView]:
    return [
        WaitingOrderView(**vars(w))
        for w in waiting_orders.of_brand(brand_id, limit=limit, offset=offset)
    ]


@router.post(
    "/brands/{brand_id}/unroutable-orders/reroute",
    operation_id="rerouteWaitingOrders",
    dependencies=[Depends(allow(Role.SUPPORT))],
)
def reroute(brand_id: UUID, waiting_orders: WaitingOrdersDep) -> Rerouted:
    return Rerouted(allocated=waiting_orders.route_again(brand_id))


@router.post(
    "/brands/{brand_id}/routing-policies",
    operation_id="publishRoutingPolicy",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def publish_routing_policy(
    brand_id: UUID,
    body: PublishRoutingPolicy,
    routing: RoutingDep,
    clock: ClockDep,
    command: CommandDep,
) -> Accepted:
    draft = RoutingPolicy(
        distance_band_km=body.distance_band_km,
        max_shipments=body.max_shipments,
        split_search_limit=body.split_search_limit,
        prefer_warehouse=body.prefer_warehouse,
        effective_from=body.effective_from or clock.now(),
    )
    return Accepted.of(
        routing.publish_policy(command, brand_id, draft, effective_now=body.effective_from is None)
    )


@router.get(
    "/brands/{brand_id}/routing-policies",
    operation_id="listRoutingPolicies",
    dependencies=[Depends(anyone)],
)
def routing_policies(brand_id: UUID, routing: RoutingDep) -> list[RoutingPolicyView]:
    return [RoutingPolicyView(**vars(p)) for p in routing.policies(brand_id)]
