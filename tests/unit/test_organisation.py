from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import pytest

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.periods import SettlementCadence
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide, GuideStatus
from guideledger.organisation.domain.units import Node, NodeKind, OpeningHours, StoreOwnership

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HERE = GeoPoint(31.23, 121.47)


def make_store(**overrides: object) -> Node:
    fields: dict[str, object] = {
        "brand_id": uuid4(),
        "branch_id": uuid4(),
        "code": "S1",
        "name": "Store 1",
        "kind": NodeKind.STORE,
        "location": HERE,
        "ownership": StoreOwnership.DIRECT,
        "district_id": uuid4(),
        "occurred_at": NOW,
        "actor": "admin",
    }
    fields.update(overrides)
    return Node.register(**fields)  # type: ignore[arg-type]


def make_guide() -> Guide:
    return Guide.hire(
        brand_id=uuid4(), code="G1", name="Wang", store_id=uuid4(), occurred_at=NOW, actor="a"
    )


def test_brand_identity_is_its_code() -> None:
    group_id = uuid4()
    brand = Brand.register(
        group_id, "ACME", "Acme", "Asia/Shanghai", SettlementCadence.MONTHLY, NOW, "a"
    )
    assert brand.id == Brand.create_id(group_id, "ACME") != Brand.create_id(uuid4(), "ACME")


def test_brand_refuses_unknown_time_zone() -> None:
    with pytest.raises(InvalidValue):
        Brand.register(
            uuid4(), "ACME", "Acme", "Asia/Atlantis", SettlementCadence.MONTHLY, NOW, "a"
        )


def test_brand_changes_cadence_but_not_to_the_same_one() -> None:
    brand = Brand.register(
        uuid4(), "ACME", "Acme", "Asia/Shanghai", SettlementCadence.MONTHLY, NOW, "a"
    )
    brand.change_settlement_cadence(SettlementCadence.QUARTERLY, NOW, "a")
    assert brand.settlement_cadence is SettlementCadence.QUARTERLY
    with pytest.raises(RuleViolated):
        brand.change_settlement_cadence(SettlementCadence.QUARTERLY, NOW, "a")


def test_refuses_blank_names() -> None:
    with pytest.raises(InvalidValue):
        Brand.register(uuid4(), "ACME", "   ", "Asia/Shanghai", SettlementCadence.MONTHLY, NOW, "a")


def test_store_needs_ownership_and_district() -> None:
    with pytest.raises(InvalidValue):
        make_store(ownership=None)
    with pytest.raises(InvalidValue):
        make_store(district_id=None)


def test_warehouse_has_no_ownership_or_district() -> None:
    with pytest.raises(InvalidValue):
        make_store(kind=NodeKind.WAREHOUSE)
    warehouse = make_store(kind=NodeKind.WAREHOUSE, ownership=None, district_id=None)
    assert warehouse.kind is NodeKind.WAREHOUSE


def test_node_pauses_and_resumes_once_each() -> None:
    store = make_store()
    store.pause("no staff today", NOW, "a")
    assert store.paused
    with pytest.raises(RuleViolated):
        store.pause("again", NOW, "a")
    store.resume(NOW, "a")
    assert not store.paused
    with pytest.raises(RuleViolated):
        store.resume(NOW, "a")


def test_node_daily_order_cap_is_positive_or_lifted() -> None:
    store = make_store()
    with pytest.raises(InvalidValue):
        store.set_daily_order_cap(0, NOW, "a")
    store.set_daily_order_cap(200, NOW, "a")
    assert store.daily_order_cap == 200
    store.set_daily_order_cap(None, NOW, "a")
    assert store.daily_order_cap is None


def test_guide_transfers_to_another_store_only() -> None:
    guide = make_guide()
    with pytest.raises(RuleViolated):
        guide.transfer(guide.store_id, NOW, "a")
    new_store = uuid4()
    guide.transfer(new_store, NOW, "a")
    assert guide.store_id == new_store


def test_guide_who_left_cannot_transfer_or_leave_again() -> None:
    guide = make_guide()
    guide.leave("resigned", NOW, "a")
    assert guide.status is GuideStatus.LEFT
    assert guide.left_at == NOW
    with pytest.raises(RuleViolated):
        guide.transfer(uuid4(), NOW, "a")
    with pytest.raises(RuleViolated):
        guide.leave("again", NOW, "a")


def test_sku_price_is_positive_and_changes_to_a_new_value() -> None:
    with pytest.raises(InvalidValue):
        Sku.register(
            brand_id=uuid4(),
            code="K",
            name="k",
            category="c",
            price_fen=0,
            occurred_at=NOW,
            actor="a",
        )
    sku = Sku.register(
        brand_id=uuid4(),
        code="K",
        name="k",
        category="c",
        price_fen=100,
        occurred_at=NOW,
        actor="a",
    )
    with pytest.raises(RuleViolated):
        sku.change_price(100, NOW, "a")
    sku.change_price(120, NOW, "a")
    assert sku.price_fen == 120


def a_sku(price_fen: int = 10_000) -> Sku:
    return Sku.register(
        brand_id=uuid4(),
        code="K",
        name="k",
        category="c",
        price_fen=price_fen,
        occurred_at=NOW,
        actor="a",
    )


def test_a_promotion_price_is_in_force_only_while_it_runs() -> None:
    sku = a_sku()
    starts, ends = NOW + timedelta(days=1), NOW + timedelta(days=3)
    sku.publish_promotion("双十一 Singles' Day", 7_900, starts, ends, NOW, "admin")
    assert sku.price_in_force(starts - timedelta(seconds=1)) == 10_000
    assert sku.price_in_force(starts) == sku.price_in_force(ends - timedelta(seconds=1)) == 7_900
    assert sku.price_in_force(ends) == 10_000
    sku.change_price(12_000, NOW, "admin")
    assert (sku.price_in_force(NOW), sku.price_in_force(starts)) == (12_000, 7_900)


def test_a_promotion_published_without_a_start_runs_from_now() -> None:
    sku = a_sku()
    sku.publish_promotion("flash", 5_000, None, NOW + timedelta(hours=2), NOW, "admin")
    assert sku.price_in_force(NOW) == 5_000


@pytest.mark.parametrize(
    ("starts", "ends", "refusal"),
    [
        (NOW - timedelta(seconds=1), NOW + timedelta(days=1), RuleViolated),
        (NOW + timedelta(days=1), NOW + timedelta(days=1), InvalidValue),
        (NOW + timedelta(days=2), NOW + timedelta(days=5), RuleViolated),
    ],
    ids=["starts in the past", "ends as it starts", "overlaps another"],
)
def test_a_promotion_is_refused_in_the_past_empty_or_overlapping(
    starts: datetime, ends: datetime, refusal: type[Exception]
) -> None:
    sku = a_sku()
    sku.publish_promotion(
        "first", 7_900, NOW + timedelta(days=1), NOW + timedelta(days=3), NOW, "a"
    )
    with pytest.raises(refusal):
        sku.publish_promotion("second", 6_900, starts, ends, NOW, "a")
    assert len(sku.promotions) == 1


def test_a_quarterly_brand_turning_monthly_finishes_its_quarter_first() -> None:
    mid_quarter = datetime(2026, 11, 15, tzinfo=UTC)
    brand = Brand.register(
        uuid4(), "ACME", "Acme", "Asia/Shanghai", SettlementCadence.QUARTERLY, mid_quarter, "a"
    )
    effective = brand.change_settlement_cadence(SettlementCadence.MONTHLY, mid_quarter, "a")
    assert effective == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January in Shanghai
    assert brand.period_of(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == "2026-Q4"
    assert brand.period_after("2026-Q4") == "2027-01"


def test_a_store_is_open_from_its_opening_time_until_its_closing_time() -> None:
    hours = OpeningHours(time(10), time(22))
    assert [hours.is_open_at(time(h)) for h in (9, 10, 21, 22)] == [False, True, True, False]
    with pytest.raises(InvalidValue):
        OpeningHours(time(22), time(10))
    with pytest.raises(InvalidValue):
        OpeningHours(time(10, tzinfo=UTC), time(22, tzinfo=UTC))
