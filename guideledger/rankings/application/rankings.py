"""The morning read for managers: yesterday's rankings, daily sales, share funnels.

The queries put together the orders context's sales read models and the engagement
context's reach read models: a guide's rank weighs both, a share's funnel runs from
its reach to the orders paid through it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from guideledger.engagement.application.projections import (
    GUIDE_ENGAGEMENT_BY_DAY,
    SHARE_REACH,
    EngagementByDay,
    ShareReach,
)
from guideledger.kernel.errors import InvalidValue
from guideledger.orders.application.sales import (
    BRANCH_SALES_BY_DAY,
    GUIDE_SALES_BY_DAY,
    SHARE_SALES,
    STORE_SALES_BY_DAY,
    SalesByDay,
    ShareSales,
)
from guideledger.readmodels.model import Projection, ReadModels

MAX_DAYS = 92


class StoreMeasure(StrEnum):
    TOTAL = "total"  # net sales of every attributed order
    ONLINE = "online"  # net sales through guides' links, QR codes, live streams and bindings


class GuideMeasure(StrEnum):
    SALES = "sales"
    ONLINE_SALES = "online_sales"
    SHARE_RATE = "share_rate"  # paid orders through the guide's shares, per share
    CONVERSION = "conversion"  # paid orders through the guide's shares, per visit


@dataclass(frozen=True)
class Sales:
    paid_orders: int = 0
    sales_fen: int = 0
    online_sales_fen: int = 0
    refunds_fen: int = 0

    @property
    def net_sales_fen(self) -> int:
        return self.sales_fen - self.refunds_fen

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> Sales:
        totals: dict[str, int] = defaultdict(int)
        for row in rows:
            for column in ("paid_orders", "sales_fen", "online_sales_fen", "refunds_fen"):
                totals[column] += row[column] or 0
        return cls(**totals)


@dataclass(frozen=True)
class StoreRank:
    rank: int
    store_id: UUID
    branch_id: UUID
    district_id: UUID
    sales: Sales


@dataclass(frozen=True)
class GuideRank:
    rank: int
    guide_id: UUID
    store_id: UUID
    sales: Sales
    shares: int
    visits: int
    share_orders: int

    @property
    def share_rate(self) -> float:
        return self.share_orders / self.shares if self.shares else 0.0

    @property
    def conversion(self) -> float:
        return self.share_orders / self.visits if self.visits else 0.0

    def measure(self, measure: GuideMeasure) -> float:
        if measure is GuideMeasure.SALES:
            return self.sales.net_sales_fen
        if measure is GuideMeasure.ONLINE_SALES:
            return self.sales.online_sales_fen
        return self.share_rate if measure is GuideMeasure.SHARE_RATE else self.conversion


@dataclass(frozen=True)
class DayFigures:
    day: str
    sales: Sales


@dataclass(frozen=True)
class Glance:
    day: DayFigures
    day_before: DayFigures
    week_before: DayFigures  # the same weekday a week before


@dataclass(frozen=True)
class FunnelDay:
    day: str
    shares: int
    visits: int
    add_to_carts: int
    share_orders: int


@dataclass(frozen=True)
class ShareFunnel:
    """A share's reach and the orders placed and paid through it."""

    share_code: str
    guide_id: UUID | None  # None while only orders through it have been counted
    visits: int
    add_to_carts: int
    orders: int
    payments: int


class Rankings:
    def __init__(
        self,
        read_models: ReadModels,
        time_zone_of: Callable[[UUID], str],
        now: Callable[[], datetime],
    ) -> None:
        self.read_models = read_models
        self.time_zone_of = time_zone_of
        self.now = now

    def yesterday(self, brand_id: UUID) -> date:
        return self.now().astimezone(ZoneInfo(self.time_zone_of(brand_id))).date() - timedelta(1)

    def stores(
        self, brand_id: UUID, day: date | None, measure: StoreMeasure = StoreMeasure.TOTAL
    ) -> list[StoreRank]:
        """Stores ranked by net sales (total or online) on one day; yesterday by default."""
        self._fresh(SalesByDay)
        day = day or self.yesterday(brand_id)
        rows = self.read_models.select(
            STORE_SALES_BY_DAY, {"brand_id": brand_id, "day": day.isoformat()}
        )
        ranked = sorted(
            ((Sales.of([row]), row) for row in rows),
            key=lambda pair: (-_store_measure(pair[0], measure), str(pair[1]["store_id"])),
        )
        return [
            StoreRank(n, row["store_id"], row["branch_id"], row["district_id"], sales)
            for n, (sales, row) in enumerate(ranked, start=1)
        ]

    def guides(
        self,
        brand_id: UUID,
        day: date | None,
        *,
        store_id: UUID | None = None,
        district_id: UUID | None = None,
        branch_id: UUID | None = None,
        measure: GuideMeasure = GuideMeasure.SALES,
    ) -> list[GuideRank]:
        """The guides of the brand, or of one store, district or branch, ranked on one day;
        yesterday by default. A guide ranks there for what they sold or shared from the
        store that day."""
        scope = {"store_id": store_id, "district_id": district_id, "branch_id": branch_id}
        scope = {column: unit for column, unit in scope.items() if unit is not None}
        if len(scope) > 1:
            raise InvalidValue("rank the guides of one store, district or branch, or the brand's")
        self._fresh(SalesByDay, EngagementByDay)
        day = day or self.yesterday(brand_id)
        where: dict[str, Any] = {"brand_id": brand_id, "day": day.isoformat(), **scope}
        sold = _by_guide(self.read_models.select(GUIDE_SALES_BY_DAY, where))
        reached = _by_guide(self.read_models.select(GUIDE_ENGAGEMENT_BY_DAY, where))
        guides = [
            GuideRank(
                0,
                guide_id,
                guide_store,
                Sales.of(sold.get((guide_id, guide_store), ())),
                _count(reached, (guide_id, guide_store), "shares"),
                _count(reached, (guide_id, guide_store), "visits"),
                _count(sold, (guide_id, guide_store), "share_orders"),
            )
            for guide_id, guide_store in sold.keys() | reached.keys()
        ]

        def key(g: GuideRank) -> tuple[float, str, str]:
            return (-g.measure(measure), str(g.guide_id), str(g.store_id))

        return [
            GuideRank(n, g.guide_id, g.store_id, g.sales, g.shares, g.visits, g.share_orders)
            for n, g in enumerate(sorted(guides, key=key), start=1)
        ]

    def daily_sales(
        self,
        brand_id: UUID,
        first: date,
        last: date,
        *,
        store_id: UUID | None = None,
        branch_id: UUID | None = None,
        guide_id: UUID | None = None,
        district_id: UUID | None = None,
    ) -> list[DayFigures]:
        """Sales per day for the brand, or one store, branch, district or guide, with empty
        days as zero."""
        days = days_between(first, last)
        self._fresh(SalesByDay)
        where: dict[str, Any] = {"brand_id": brand_id, "day": days}
        table = BRANCH_SALES_BY_DAY
        if store_id is not None:
            table, where["store_id"] = STORE_SALES_BY_DAY, store_id
        elif district_id is not None:
            table, where["district_id"] = STORE_SALES_BY_DAY, district_id
        elif guide_id is not None:
            table, where["guide_id"] = GUIDE_SALES_BY_DAY, guide_id
        elif branch_id is not None:
            where["branch_id"] = branch_id
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.read_models.select(table, where):
            by_day[row["day"]].append(row)
        return [DayFigures(day, Sales.of(by_day.get(day, []))) for day in days]

    def glance(self, brand_id: UUID, day: date | None, **scope: UUID | None) -> Glance:
        """A day's sales (yesterday by default) for the brand or the `scope` `daily_sales`
        takes, beside the day before and the same weekday a week before."""
        day = day or self.yesterday(brand_id)
        days = self.daily_sales(brand_id, day - timedelta(7), day, **scope)
        return Glance(days[-1], days[-2], days[0])

    def funnel(self, brand_id: UUID, guide_id: UUID, first: date, last: date) -> list[FunnelDay]:
        """A guide's shares, reach, add-to-carts and paid orders through shares, per day."""
        days = days_between(first, last)
        self._fresh(SalesByDay, EngagementByDay)
        where = {"brand_id": brand_id, "guide_id": guide_id, "day": days}
        reached = _daily_totals(
            self.read_models.select(GUIDE_ENGAGEMENT_BY_DAY, where),
            "shares",
            "visits",
            "add_to_carts",
        )
        sold = _daily_totals(self.read_models.select(GUIDE_SALES_BY_DAY, where), "share_orders")
        return [
            FunnelDay(
                day,
                reached[day]["shares"],
                reached[day]["visits"],
                reached[day]["add_to_carts"],
                sold[day]["share_orders"],
            )
            for day in days
        ]

    def share(self, share_code: str) -> ShareFunnel | None:
        """None if nothing about the share has been read yet."""
        self._fresh(ShareReach, ShareSales)
        reach = self.read_models.select(SHARE_REACH, {"share_code": share_code})
        sales = self.read_models.select(SHARE_SALES, {"share_code": share_code})
        if not reach and not sales:
            return None
        row = {**(reach[0] if reach else {}), **(sales[0] if sales else {})}
        return ShareFunnel(
            share_code,
            row.get("guide_id"),
            *(row.get(c) or 0 for c in ("visits", "add_to_carts", "orders", "payments")),
        )

    def _fresh(self, *projections: type[Projection]) -> None:
        for projection in projections:
            self.read_models.catch_up(projection)


def _store_measure(sales: Sales, measure: StoreMeasure) -> int:
    return sales.net_sales_fen if measure is StoreMeasure.TOTAL else sales.online_sales_fen


GuideAtStore = tuple[UUID, UUID]


def _by_guide(rows: Iterable[dict[str, Any]]) -> dict[GuideAtStore, list[dict[str, Any]]]:
    by_guide: dict[GuideAtStore, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_guide[(row["guide_id"], row["store_id"])].append(row)
    return by_guide


def _count(rows: dict[GuideAtStore, list[dict[str, Any]]], key: GuideAtStore, column: str) -> int:
    return sum(row[column] or 0 for row in rows.get(key, ()))


def _daily_totals(rows: Iterable[dict[str, Any]], *columns: str) -> defaultdict[str, Counter[str]]:
    """Each day's counters summed over its rows (zero for a day not there)."""
    totals: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for column in columns:
            totals[row["day"]][column] += row[column] or 0
    return totals


def days_between(first: date, last: date) -> list[str]:
    if last < first:
        raise InvalidValue("the last day comes before the first")
    if (last - first).days >= MAX_DAYS:
        raise InvalidValue(f"ask for at most {MAX_DAYS} days at a time")
    return [(first + timedelta(n)).isoformat() for n in range((last - first).days + 1)]
