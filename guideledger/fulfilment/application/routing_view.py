"""What routing chooses from, kept in this process's memory.

Placing an order used to catch the stock, node and daily-load read models up and select
from them: write transactions and several round trips in every request. The routing view
folds the same projections (`StockAvailability`, `NodeDirectory`, `NodeDailyLoads`) into
memory instead: it starts from the stored read models at their positions, then takes from
each log what was recorded since, read once per decision (`FoldedTable`). Daily
loads are kept only for the nodes and days routing asked about (the table grows by a row
per node and day). It sees every write this process made; another process's last write
it may see a moment late. The stock aggregates judge every reservation, so a stale figure
costs a second routing round, never an oversold unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from guideledger.eventstore.application import LedgerApplication
from guideledger.fulfilment.application.projections import (
    NODE_DAILY_LOADS,
    NODES,
    STOCK_AVAILABILITY,
    NodeDailyLoads,
    NodeDirectory,
    StockAvailability,
)
from guideledger.readmodels.folded import FoldedTable
from guideledger.readmodels.model import ReadModels


class RoutingView:
    """Stock available per node and SKU, and where the nodes are and whether they take
    orders, for routing."""

    def __init__(
        self, orders: LedgerApplication, organisation: LedgerApplication, read_models: ReadModels
    ) -> None:
        self.stock = FoldedTable(
            StockAvailability(), STOCK_AVAILABILITY, orders, read_models, index="sku_id"
        )
        self.nodes = FoldedTable(NodeDirectory(), NODES, organisation, read_models, "node_id")
        self.loads = FoldedTable(
            NodeDailyLoads(), NODE_DAILY_LOADS, orders, read_models, "load_id", tracked=set()
        )

    def available(self, brand_id: UUID, sku_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        """The brand's stock rows of these SKUs (on hand and reserved per node)."""
        return [row for row in self.stock.current(sku_ids) if row["brand_id"] == brand_id]

    def nodes_of(self, node_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        return self.nodes.current(node_ids)

    def orders_taken(self, load_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The orders each of these daily loads took (`NodeDailyLoad.create_id`)."""
        return {row["load_id"]: row["orders"] for row in self.loads.current(load_ids)}
