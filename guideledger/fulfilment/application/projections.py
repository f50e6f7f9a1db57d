"""The read models routing needs: stock availability, the node directory, the nodes' daily
loads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guideledger.fulfilment.domain.daily_load import NodeDailyLoad
from guideledger.fulfilment.domain.stock import Stock
from guideledger.organisation.domain.structure import Node
from guideledger.readmodels.model import Increment, Projection, RowChange, Table, Upsert

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
    handles = tuple(
        (Stock, name)
        for name in (
            "Opened",
            "Received",
            "Adjusted",
            "Reserved",
            "Released",
            "Committed",
            "Restocked",
        )
    )

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Opened":
                row = {
                    "node_id": event.node_id,
                    "sku_id": event.sku_id,
                    "brand_id": event.brand_id,
                    "on_hand": 0,
                    "reserved": 0,
                }
                return [Upsert(STOCK_AVAILABILITY, key, row)]
            case "Received" | "Restocked":
                deltas = {"on_hand": event.quantity}
            case "Adjusted":
                deltas = {"on_hand": event.delta}
            case "Reserved":
                deltas = {"reserved": event.quantity}
            case "Released":
                deltas = {"reserved": -event.quantity}
            case "Committed":
                deltas = {"on_hand": -event.quantity, "reserved": -event.quantity}
            case _:
                return []
        return [Increment(STOCK_AVAILABILITY, key, deltas)]


class NodeDailyLoads(Projection):
    """How many orders each node took on each day: which nodes routing passes over as at
    their daily cap. The loads themselves refuse an order past the cap; this spares
    routing a read of every capped candidate's load per order."""

    name = "node_daily_loads"
    application = "orders"
    tables = (NODE_DAILY_LOADS,)
    handles = ((NodeDailyLoad, "OrderTaken"),)

    def changes(self, event: Any) -> Iterable[RowChange]:
        return [Increment(NODE_DAILY_LOADS, (event.originator_id,), {"orders": 1})]


class NodeDirectory(Projection):
    """Where each node is and whether it can take orders."""

    name = "node_directory"
    application = "organisation"
    tables = (NODES,)
    handles = tuple(
        (Node, name) for name in ("Registered", "Paused", "Resumed", "DailyOrderCapSet")
    )

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Registered":
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
                return [Upsert(NODES, key, row)]
            case "Paused":
                return [Upsert(NODES, key, {"paused": True})]
            case "Resumed":
                return [Upsert(NODES, key, {"paused": False})]
            case "DailyOrderCapSet":
                return [Upsert(NODES, key, {"daily_order_cap": event.cap})]
        return []
