"""A realistic demo data set, loaded through the real application commands.

One sportswear brand, four branches, 50 stores (open 10:00 to 22:00) and 3 warehouses in
real Chinese cities, ~500 guides, a catalogue, members, and weeks of orders in every state
of their lifecycle, returns and exchanges included; who buys when and through whom is
`demo_demand`'s. Deterministic: the same seed, the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from guideledger.api.demo_demand import CLOSES, OPENS, Demand
from guideledger.api.demo_orders import order_story
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.kernel.periods import SettlementCadence, period_end
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.group import Group
from guideledger.organisation.domain.units import NodeKind, OpeningHours, StoreOwnership

GROUP_CODE = "GL-GROUP"
BRAND_CODE = "GL-SPORT"
GROUP_ID = Group.create_id(GROUP_CODE)
BRAND_ID = Brand.create_id(GROUP_ID, BRAND_CODE)
DEMO_ACTOR = "demo-loader"

# branch code, branch name, region name, cities: (city, latitude, longitude, stores)
BRANCHES = [
    (
        "EAST",
        "华东分公司 East China",
        "东区 East",
        [
            ("上海 Shanghai", 31.2304, 121.4737, 8),
            ("杭州 Hangzhou", 30.2741, 120.1551, 4),
            ("南京 Nanjing", 32.0603, 118.7969, 4),
            ("苏州 Suzhou", 31.2990, 120.5853, 3),
        ],
    ),
    (
        "NORTH",
        "华北分公司 North China",
        "北区 North",
        [
            ("北京 Beijing", 39.9042, 116.4074, 7),
            ("天津 Tianjin", 39.3434, 117.3616, 3),
            ("济南 Jinan", 36.6512, 117.1201, 2),
        ],
    ),
    (
        "SOUTH",
        "华南分公司 South China",
        "南区 South",
        [
            ("广州 Guangzhou", 23.1291, 113.2644, 5),
            ("深圳 Shenzhen", 22.5431, 114.0579, 5),
            ("厦门 Xiamen", 24.4798, 118.0894, 2),
        ],
    ),
    (
        "WEST",
        "华西分公司 West China",
        "西区 West",
        [
            ("成都 Chengdu", 30.5728, 104.0668, 3),
            ("重庆 Chongqing", 29.4316, 106.9123, 2),
            ("西安 Xi'an", 34.3416, 108.9398, 1),
            ("武汉 Wuhan", 30.5928, 114.3055, 1),
        ],
    ),
]
WAREHOUSES = [
    ("WH-SH", "上海嘉定中心仓 Shanghai Jiading DC", "EAST", 31.3838, 121.2503),
    ("WH-BJ", "北京大兴中心仓 Beijing Daxing DC", "NORTH", 39.7267, 116.3411),
    ("WH-GZ", "广州黄埔区域仓 Guangzhou Huangpu RDC", "SOUTH", 23.1064, 113.4590),
]
CATEGORIES = {
    "footwear": ["跑鞋 Running shoe", "篮球鞋 Basketball shoe", "板鞋 Skate shoe"],
    "apparel": ["速干T恤 Dry-fit tee", "卫衣 Hoodie", "运动裤 Track pants", "羽绒服 Down jacket"],
    "accessories": ["运动袜 Sports socks", "双肩包 Backpack", "棒球帽 Cap"],
}
GUIDES_PER_STORE = 10


@dataclass
class DemoWorld:
    brand_id: UUID
    stores: list[tuple[UUID, GeoPoint]] = field(default_factory=list)
    warehouses: list[UUID] = field(default_factory=list)
    cities: dict[str, GeoPoint] = field(default_factory=dict)
    store_cities: dict[UUID, str] = field(default_factory=dict)
    guides: list[tuple[UUID, UUID]] = field(default_factory=list)  # (guide, store)
    skus: list[tuple[UUID, int]] = field(default_factory=list)  # (sku, price)
    members: list[UUID] = field(default_factory=list)

    @property
    def store_locations(self) -> dict[UUID, GeoPoint]:
        return dict(self.stores)


def demo_is_loaded(ledger: Ledger) -> bool:
    return ledger.organisation.exists(Brand, BRAND_ID)


def load_demo(
    ledger: Ledger,
    set_clock: Callable[[datetime], object],
    orders: int = 3000,
    members: int = 1500,
    span: timedelta = timedelta(days=28),
    seed: int = 20260101,
    progress: Callable[[int], None] = lambda _done: None,
    group_code: str = GROUP_CODE,
) -> DemoWorld:
    """Loads the organisation, catalogue, members and `orders` orders spread over `span`
    from the ledger's clock's current instant, for the group `group_code` (another code
    loads the same brand for another group).

    `set_clock` moves the ledger's clock, so a month of orders gets realistic
    timestamps while going through the same commands as production. Each order
    falls at a random moment of its own equal slice of the span, so the history
    always runs right to its end.
    """
    rng = random.Random(seed)  # noqa: S311  (reproducible demo data, not security)
    world = _load_organisation(ledger, rng, group_code)
    _load_catalogue(ledger, world, rng)
    _load_stock(ledger, world, rng)
    _load_members(ledger, world, members)
    start, days = ledger.clock.now(), max(span.days, 1)
    stores = [store for store, _location in world.stores]
    demand = Demand.of(rng, world.guides, stores, days)
    time_zone = ledger.organisation.load(Brand, world.brand_id).time_zone
    for n, moment in enumerate(demand.instants(start, days, orders, time_zone)):
        set_clock(moment)
        order_story(ledger, world, demand, demand.is_live(moment, start, time_zone), n)
        progress(n + 1)
    return world


def _load_organisation(ledger: Ledger, rng: random.Random, group_code: str) -> DemoWorld:
    org, cmd = ledger.organisation, Command(DEMO_ACTOR)
    group_id = org.register_group(cmd, group_code, "GuideLedger 集团 Group").id
    brand_id = org.register_brand(
        cmd,
        group_id,
        BRAND_CODE,
        "GuideLedger 运动 Sport",
        "Asia/Shanghai",
        SettlementCadence.MONTHLY,
    ).id
    world = DemoWorld(brand_id)
    branch_ids = {}
    for branch_code, branch_name, region_name, cities in BRANCHES:
        branch_ids[branch_code] = org.register_branch(cmd, brand_id, branch_code, branch_name).id
        region_id = org.register_region(cmd, brand_id, f"R-{branch_code}", region_name).id
        for city, lat, lon, store_count in cities:
            world.cities[city] = GeoPoint(lat, lon)
            city_code = city.split(" ", 1)[1].replace("'", "").upper()
            district_id = org.register_district(
                cmd, brand_id, region_id, f"D-{city_code}", f"{city} 区"
            ).id
            for i in range(1, store_count + 1):
                location = GeoPoint(lat + rng.uniform(-0.08, 0.08), lon + rng.uniform(-0.08, 0.08))
                store_id = org.register_node(
                    cmd,
                    brand_id=brand_id,
                    branch_id=branch_ids[branch_code],
                    code=f"S-{city_code}-{i:02d}",
                    name=f"{city} 门店 Store {i}",
                    kind=NodeKind.STORE,
                    location=location,
                    ownership=StoreOwnership.DIRECT if i % 3 else StoreOwnership.FRANCHISE,
                    district_id=district_id,
                    city=city,
                ).id
                world.stores.append((store_id, location))
                world.store_cities[store_id] = city
                org.set_store_opening_hours(cmd, store_id, OpeningHours(OPENS, CLOSES))
                for g in range(1, GUIDES_PER_STORE + 1):
                    guide_id = org.hire_guide(
                        cmd, brand_id, f"G-{city_code}-{i:02d}-{g:02d}", f"导购 Guide {g}", store_id
                    ).id
                    world.guides.append((guide_id, store_id))
    for code, name, branch_code, lat, lon in WAREHOUSES:
        warehouse = org.register_node(
            cmd,
            brand_id=brand_id,
            branch_id=branch_ids[branch_code],
            code=code,
            name=name,
            kind=NodeKind.WAREHOUSE,
            location=GeoPoint(lat, lon),
        )
        world.warehouses.append(warehouse.id)
    return world


def _load_catalogue(ledger: Ledger, world: DemoWorld, rng: random.Random) -> None:
    cmd = Command(DEMO_ACTOR)
    for category, names in CATEGORIES.items():
        for n, name in enumerate(names, start=1):
            for colour in ("BLK", "WHT", "RED"):
                price = rng.choice([59, 99, 129, 199, 299, 399, 599, 899]) * 100
                sku_id = ledger.organisation.register_sku(
                    cmd,
                    brand_id=world.brand_id,
                    code=f"{category[:3].upper()}-{n:02d}-{colour}",
                    name=f"{name} {colour}",
                    category=category,
                    price_fen=price,
                ).id
                world.skus.append((sku_id, price))


def _load_stock(ledger: Ledger, world: DemoWorld, rng: random.Random) -> None:
    """Warehouses hold everything; each store holds a few units of about half the catalogue."""
    cmd = Command(DEMO_ACTOR)
    for sku_id, _price in world.skus:
        for warehouse_id in world.warehouses:
            ledger.stock.receive(cmd, warehouse_id, sku_id, 400, "ASN-OPENING")
        for store_id, _location in world.stores:
            if rng.random() < 0.5:
                units = rng.randint(2, 12)
                ledger.stock.receive(cmd, store_id, sku_id, units, "ASN-OPENING")


def _load_members(ledger: Ledger, world: DemoWorld, count: int) -> None:
    cmd = Command(DEMO_ACTOR)
    group_id = ledger.organisation.group_of_brand(world.brand_id)
    for n in range(1, count + 1):
        store_id = world.stores[n % len(world.stores)][0]
        world.members.append(
            ledger.organisation.register_member(
                cmd,
                group_id=group_id,
                member_no=f"M{n:07d}",
                name=f"会员 Member {n}",
                phone=f"+86 138{n:08d}",
                registered_at_store_id=store_id,
            ).id
        )


def settle_demo(ledger: Ledger, since: datetime) -> list[str]:
    """Books as finance would have them now: commissions accrued and matured, every
    period that has ended closed into statements. Returns the periods closed."""
    ledger.projections.process_all()
    now = ledger.clock.now()
    ledger.commissions.mature_due(now)
    brand_id = BRAND_ID
    brand = ledger.organisation.load(Brand, brand_id)
    period = brand.period_of(since)
    closed = []
    while period_end(period, brand.time_zone) <= now:
        ledger.commissions.close_period(Command("finance:demo"), brand_id, period)
        closed.append(period)
        period = brand.period_after(period)
    return closed


def demo_start(now: datetime, days: int = 28) -> datetime:
    """Where the demo's clock starts: `days` before `now`, at midnight UTC."""
    start = (now - timedelta(days=days)).astimezone(UTC)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)
