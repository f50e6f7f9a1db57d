"""The morning page's queries: yesterday at a glance and the guides ranked for the caller's
scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer
from tests.api.test_attribution_api import paid_order
from tests.api.test_orders_api import TOTAL, assert_refused
from tests.world import ADMIN, World


def paid_orders(client: TestClient, world: World, count: int) -> None:
    for _ in range(count):
        paid_order(client, world)


def test_yesterday_beside_the_day_before_and_the_same_weekday_a_week_before(
    client: TestClient, world: World, clock: ManualClock, api_ledger: Ledger
) -> None:
    paid_orders(client, world, 1)  # Monday 2 November
    clock.advance(timedelta(days=6))
    paid_orders(client, world, 2)
    clock.advance(timedelta(days=1))
    paid_orders(client, world, 3)  # Monday 9 November
    clock.advance(timedelta(days=1))
    url = f"/brands/{world.brand_id}/sales/yesterday"
    glance = client.get(url, params={"district_id": str(world.district_id)}).json()
    assert [
        (glance[k]["day"], glance[k]["sales"]["paid_orders"], glance[k]["sales"]["net_sales_fen"])
        for k in ("day", "day_before", "week_before")
    ] == [("2026-11-09", 3, 3 * TOTAL), ("2026-11-08", 2, 2 * TOTAL), ("2026-11-02", 1, TOTAL)]
    assert glance["day"]["sales"]["online_sales_fen"] == 3 * TOTAL
    earlier = client.get(url, params={"day": "2026-11-08"}).json()
    assert (earlier["day"]["sales"]["paid_orders"], earlier["week_before"]["day"]) == (
        2,
        "2026-11-01",
    )
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.store_id)
    own = client.get(url, params={"store_id": str(world.store_id)}, headers=manager).json()
    assert own["day"]["sales"]["paid_orders"] == 3
    assert_refused(client.get(url, headers=manager), 403, "forbidden")
    other = {"store_id": str(world.other_store_id)}
    assert client.get(url, params=other, headers=manager).status_code == 403


def share(client: TestClient, guide_id: UUID, visits: int) -> str:
    code: str = client.post(f"/guides/{guide_id}/shares", json={"kind": "qr_code"}).json()[
        "share_code"
    ]
    if visits:
        client.post(f"/shares/{code}/visits", json={"count": visits})
    return code


def sold_through(client: TestClient, world: World, guide_id: UUID, code: str) -> None:
    evidence = {"channel": "guide_qr", "guide_id": str(guide_id), "share_code": code}
    paid_order(client, world, evidence=evidence)


def two_guides_day(client: TestClient, world: World, api_ledger: Ledger) -> UUID:
    """The world's guide sells more; a second guide, at the other store, converts better."""
    second = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-002", "Li Lei", world.other_store_id
    ).id
    busy = share(client, world.guide_id, 100)
    for _ in range(3):
        share(client, world.guide_id, 0)
    sold_through(client, world, world.guide_id, busy)
    sold_through(client, world, world.guide_id, busy)
    sold_through(client, world, second, share(client, second, 1))
    return second


def ranked(client: TestClient, world: World, **params: Any) -> list[tuple[str, float]]:
    response = client.get(f"/brands/{world.brand_id}/rankings/guides", params=params)
    assert response.status_code == 200, response.text
    return [(g["guide_id"], g["conversion"]) for g in response.json()]


def test_guides_rank_for_the_brand_a_district_or_a_branch_by_any_measure(
    client: TestClient, world: World, clock: ManualClock, api_ledger: Ledger
) -> None:
    second = str(two_guides_day(client, world, api_ledger))
    first = str(world.guide_id)
    clock.advance(timedelta(days=1))
    assert ranked(client, world) == [(first, 0.02), (second, 1.0)]
    assert ranked(client, world, measure="online_sales") == [(first, 0.02), (second, 1.0)]
    assert ranked(client, world, measure="share_rate") == [(second, 1.0), (first, 0.02)]
    assert ranked(client, world, measure="conversion") == [(second, 1.0), (first, 0.02)]
    assert ranked(client, world, district_id=str(world.district_id)) == ranked(client, world)
    assert ranked(client, world, branch_id=str(world.branch_id)) == ranked(client, world)
    both = {"store_id": str(world.store_id), "branch_id": str(world.branch_id)}
    url = f"/brands/{world.brand_id}/rankings/guides"
    assert_refused(client.get(url, params=both), 422, "invalid-value")


def test_a_store_manager_sees_their_stores_guides_without_picking_the_store(
    client: TestClient, world: World, clock: ManualClock, api_ledger: Ledger
) -> None:
    two_guides_day(client, world, api_ledger)
    clock.advance(timedelta(days=1))
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.other_store_id)
    url = f"/brands/{world.brand_id}/rankings/guides"
    guides = client.get(url, headers=manager).json()
    assert [(g["rank"], g["store_id"]) for g in guides] == [(1, str(world.other_store_id))]
