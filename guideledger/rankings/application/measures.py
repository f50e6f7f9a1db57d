"""The measures the brands' managers steer by, per brand, branch or store, per day and over a
range: how much of the sales came through guides' shares (product links, QR codes, live
streams), how much went to another city than the store's, how much was paid after the
store had closed, and how much a node of another branch shipped.

Each is a sum of net sales (paid less refunded) over the orders' `sale_facts` rows. An
order counts after closing if it was paid, in the brand's time zone, outside the opening
hours its store has now, and cross-city if the city it goes to differs from its store's;
a store without opening hours, or an order or store without a city, counts nothing there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from guideledger.orders.application.sale_facts import SALE_FACTS, SaleFacts
from guideledger.rankings.application.rankings import days_between
from guideledger.readmodels.model import ReadModels


class OpeningHours(Protocol):
    """A store's opening hours, as the organisation keeps them."""

    def is_open_at(self, local: time) -> bool: ...


class Store(Protocol):
    """What the measures read of a store, as the organisation keeps it."""

    @property
    def opening_hours(self) -> OpeningHours | None: ...

    @property
    def city(self) -> str | None: ...


@dataclass(frozen=True)
class Measures:
    orders: int = 0
    net_sales_fen: int = 0
    link_fen: int = 0
    qr_fen: int = 0
    live_stream_fen: int = 0
    cross_city_fen: int = 0
    after_closing_fen: int = 0
    cross_branch_fen: int = 0

    @property
    def through_shares_fen(self) -> int:
        return self.link_fen + self.qr_fen + self.live_stream_fen

    def rate(self, part_fen: int) -> float:
        """`part_fen` as a fraction of net sales (0 on a day without any)."""
        return part_fen / self.net_sales_fen if self.net_sales_fen else 0.0

    @classmethod
    def total(cls, measures: Iterable[Measures]) -> Measures:
        sums = {f.name: 0 for f in fields(cls)}
        for measure in measures:
            for name in sums:
                sums[name] += getattr(measure, name)
        return cls(**sums)


@dataclass(frozen=True)
class DayMeasures:
    day: str
    measures: Measures


class MeasureQueries:
    def __init__(
        self,
        read_models: ReadModels,
        time_zone_of: Callable[[UUID], str],
        store_of: Callable[[UUID], Store],
    ) -> None:
        self.read_models = read_models
        self.time_zone_of = time_zone_of
        self.store_of = store_of

    def daily(
        self,
        brand_id: UUID,
        first: date,
        last: date,
        *,
        store_id: UUID | None = None,
        branch_id: UUID | None = None,
    ) -> list[DayMeasures]:
        """The brand's measures per day, or one branch's or store's; empty days as zero."""
        days = days_between(first, last)
        self.read_models.catch_up(SaleFacts)
        where: dict[str, Any] = {"brand_id": brand_id, "day": days}
        if store_id is not None:
            where["store_id"] = store_id
        if branch_id is not None:
            where["branch_id"] = branch_id
        zone = ZoneInfo(self.time_zone_of(brand_id))
        stores: dict[UUID, Store] = {}
        by_day: dict[str, list[Measures]] = defaultdict(list)
        for row in self.read_models.select(SALE_FACTS, where):
            store_id = row["store_id"]
            if store_id is not None and store_id not in stores:
                stores[store_id] = self.store_of(store_id)
            by_day[row["day"]].append(_measures(row, stores.get(store_id), zone))
        return [DayMeasures(day, Measures.total(by_day.get(day, ()))) for day in days]


def _measures(row: dict[str, Any], store: Store | None, zone: ZoneInfo) -> Measures:
    net = (row["sales_fen"] or 0) - (row["refunds_fen"] or 0)
    by_channel = {"link_fen": 0, "qr_fen": 0, "live_stream_fen": 0}
    if row["share_channel"] is not None:
        by_channel[f"{row['share_channel']}_fen"] = net
    return Measures(
        orders=1,
        net_sales_fen=net,
        **by_channel,
        cross_city_fen=net if _cross_city(row["delivery_city"], store) else 0,
        after_closing_fen=net if _after_closing(row["paid_at"], store, zone) else 0,
        cross_branch_fen=net if row["cross_branch_nodes"] else 0,
    )


def _after_closing(paid_at: datetime, store: Store | None, zone: ZoneInfo) -> bool:
    hours = store.opening_hours if store else None
    return hours is not None and not hours.is_open_at(paid_at.astimezone(zone).time())


def _cross_city(delivery_city: str | None, store: Store | None) -> bool:
    store_city = store.city if store else None
    if delivery_city is None or store_city is None:
        return False
    return delivery_city.strip().casefold() != store_city.strip().casefold()
