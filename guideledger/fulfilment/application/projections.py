"""The read models routing needs: stock availability, the node directory, the nodes' daily
loads."""

from __future__ import annotations

from uuid import UUID

from guideledger.fulfilment.domain.daily_load import NodeDailyLoad
from guideledger.fulfilment.domain.stock import Stock
from guideledger.organisation.domain.units import Node
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert, on

STOCK_AVAILABILITY = Table(
    name="stock_availability",
    key=("stock_id",),
    columns={
        "stock_id": "uuid",
        "node_id": "uuid",
        "sku_id": "uuid",
        "brand_id": "uuid",
        "on_hand": "int",
        "reserved": "int",
    },
    indexes=(("brand_id", "sku_id"), ("node_id",)),
)

NODES = Table(
    name="node_directory",
    key=("node_id",),
    columns={
        "node_id": "uuid",
        "brand_id": "uuid",
        "branch_id": "uuid",
        "code": "text",
        "kind": "text",
        "latitude": "real",
        "longitude": "real",
        "paused": "bool",
        "daily_order_cap": "int",
    },
    indexes=(("brand_id",),),
)

NODE_DAILY_LOADS = Table(
    name="node_daily_loads",
    key=("load_id",),  # NodeDailyLoad.create_id(node, day)
    columns={"load_id": "uuid", "orders": "int"},
)


class StockAvailability(Projection):
    """On hand and reserved units per node and SKU: what routing chooses from."""

    name = "stock_availability"
    application = "orders"
    tables = (STOCK_AVAILABILITY,)

    @on(Stock.Opened)
    def opened(self, event: Stock.Opened) -> list[RowChange]:
        row = {
            "node_id": event.node_id,
            "sku_id": event.sku_id,
            "brand_id": event.brand_id,
            "on_hand": 0,
            "reserved": 0,
        }
        return [Upsert(STOCK_AVAILABILITY, (event.originator_id,), row)]

    @on(Stock.Received, Stock.Restocked)
    def arrived(self, event: Stock.Received | Stock.Restocked) -> list[RowChange]:
        return _moved(event.originator_id, on_hand=event.quantity)

    @on(Stock.Adjusted)
    def adjusted(self, event: Stock.Adjusted) -> list[RowChange]:
        return _moved(event.originator_id, on_hand=event.delta)

    @on(Stock.Reserved)
    def reserved(self, event: Stock.Reserved) -> list[RowChange]:
        return _moved(event.originator_id, reserved=event.quantity)

    @on(Stock.Released)
    def released(self, event: Stock.Released) -> list[RowChange]:
        return _moved(event.originator_id, reserved=-event.quantity)

    @on(Stock.Committed)
    def committed(self, event: Stock.Committed) -> list[RowChange]:
        return _moved(event.originator_id, on_hand=-event.quantity, reserved=-event.quantity)


def _moved(stock_id: UUID, **deltas: int) -> list[RowChange]:
    return [Increment(STOCK_AVAILABILITY, (stock_id,), deltas)]


class NodeDailyLoads(Projection):
    """How many orders each node took on each day: which nodes routing passes over as at
    their daily cap. The loads themselves refuse an order past the cap; this spares
    routing a read of every capped candidate's load per order."""

    name = "node_daily_loads"
    application = "orders"
    tables = (NODE_DAILY_LOADS,)

    @on(NodeDailyLoad.OrderTaken)
    def taken(self, event: NodeDailyLoad.OrderTaken) -> list[RowChange]:
        return [Increment(NODE_DAILY_LOADS, (event.originator_id,), {"orders": 1})]


class NodeDirectory(Projection):
    """Where each node is and whether it can take orders."""

    name = "node_directory"
    application = "organisation"
    tables = (NODES,)

    @on(Node.Registered)
    def registered(self, event: Node.Registered) -> list[RowChange]:
        row = {
            "brand_id": event.brand_id,
            "branch_id": event.branch_id,
            "code": event.code,
            "kind": str(event.kind),
            "latitude": event.location.latitude,
            "longitude": event.location.longitude,
            "paused": False,
            "daily_order_cap": None,
        }
        return [Upsert(NODES, (event.originator_id,), row)]

    @on(Node.Paused)
    def paused(self, event: Node.Paused) -> list[RowChange]:
        return [Upsert(NODES, (event.originator_id,), {"paused": True})]

    @on(Node.Resumed)
    def resumed(self, event: Node.Resumed) -> list[RowChange]:
        return [Upsert(NODES, (event.originator_id,), {"paused": False})]

    @on(Node.DailyOrderCapSet)
    def cap_set(self, event: Node.DailyOrderCapSet) -> list[RowChange]:
        return [Upsert(NODES, (event.originator_id,), {"daily_order_cap": event.cap})]
