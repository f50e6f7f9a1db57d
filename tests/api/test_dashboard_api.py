"""The two lists the dashboard reads beside the rankings: units and payouts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer
from tests.api.test_commissions_api import settled_november
from tests.world import World


def test_units_list_the_brands_organisation_by_kind(client: TestClient, world: World) -> None:
    stores = client.get(f"/brands/{world.brand_id}/units", params={"kind": "store"}).json()
    assert {s["unit_id"] for s in stores} >= {str(world.store_id)}
    assert all(s["kind"] == "store" and s["branch_id"] for s in stores)
    kinds = {u["kind"] for u in client.get(f"/brands/{world.brand_id}/units").json()}
    assert kinds >= {"region", "district", "branch", "store", "warehouse"}
    refused = client.get(f"/brands/{world.brand_id}/units", params={"kind": "planet"})
    assert refused.status_code == 422


def test_payouts_sum_statements_per_period_and_level_for_finance_only(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    guide = settled_november(client, world, api_ledger, clock)
    client.post(f"{guide}/statements/2026-11/payout", json={"amount_fen": 951, "reference": "B-1"})
    finance = bearer(api_ledger, Role.FINANCE)
    payouts = client.get(f"/brands/{world.brand_id}/payouts", headers=finance).json()
    assert {
        "period": "2026-11",
        "level": "guide",
        "statements": 1,
        "total_fen": 951,
        "closed_fen": 951,
        "paid_fen": 951,
    } in payouts
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.store_id)
    refused = client.get(f"/brands/{world.brand_id}/payouts", headers=manager)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
