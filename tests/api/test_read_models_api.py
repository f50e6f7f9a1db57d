"""Rebuild, diff and promote the commission view through the API, end to end."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.commissions.domain.rules import Payee, PayeeLevel
from guideledger.composition import Ledger
from tests.api.conftest import bearer, platform
from tests.api.test_orders_api import assert_refused, delivered_order
from tests.world import World, event_count

BASE = "/read-models/commission-view"


def test_rebuild_diff_promote_through_the_api(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    delivered_order(client, world)
    finance = bearer(api_ledger, Role.FINANCE)
    view = f"/brands/{world.brand_id}/commission-view"
    guide = Payee(PayeeLevel.GUIDE, world.guide_id).key
    serving = {
        r["payee"]: r["amount_fen"]
        for r in client.get(view, params={"period": "2026-11"}, headers=finance).json()
    }
    assert serving[guide] == 951  # 3% of 31,700 fen under the rules in force

    published = client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={"rates": [{"level": "guide", "rate_bp": 500}]},
    )
    rules_version = published.json()["version"]
    refused = client.post(f"{BASE}/rebuilds", json={"rules_version": 1}, headers=finance)
    assert_refused(refused, 403, "forbidden")
    started = client.post(
        f"{BASE}/rebuilds", json={"rules_version": rules_version}, headers=platform(api_ledger)
    )
    assert started.status_code == 202, started.text
    assert started.json()["candidate"] == 2
    api_ledger.commission_views.wait()
    assert client.get(BASE, headers=platform(api_ledger)).json()["candidate_ready"] is True

    diff = {d["payee"]: d for d in client.get(f"{view}/diff", headers=finance).json()}
    assert diff[guide] == {
        "payee": guide,
        "period": "2026-11",
        "old_fen": 951,
        "new_fen": 1585,
        "difference_fen": 634,
        "orders_affected": 1,
        "correction_period": "2026-11",
    }
    before = event_count(api_ledger)
    promoted = client.post(f"{BASE}/promote", headers=platform(api_ledger))
    assert promoted.json() == {
        "serving": 2,
        "serving_rules": rules_version,
        "candidate": None,
        "candidate_rules": None,
        "candidate_events": None,
        "candidate_ready": None,
    }
    assert event_count(api_ledger) == before  # a read model changed, not the books
    after = client.get(view, params={"period": "2026-11"}, headers=finance).json()
    assert {r["payee"]: r["amount_fen"] for r in after}[guide] == 1585
    assert_refused(client.post(f"{BASE}/promote", headers=platform(api_ledger)), 404, "not-found")
    assert_refused(client.get(f"{view}/diff", headers=finance), 404, "not-found")


def test_a_second_rebuild_waits_for_the_first_to_be_promoted_or_discarded(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    delivered_order(client, world)
    assert client.post(f"{BASE}/rebuilds", json={}, headers=platform(api_ledger)).status_code == 202
    assert_refused(
        client.post(f"{BASE}/rebuilds", json={}, headers=platform(api_ledger)), 409, "conflict"
    )
    api_ledger.commission_views.wait()
    assert client.get(f"/brands/{world.brand_id}/commission-view/diff").json() == []
    assert client.post(f"{BASE}/discard", headers=platform(api_ledger)).json()["candidate"] is None
    assert (
        client.post(
            f"{BASE}/rebuilds", json={"rules_version": -1}, headers=platform(api_ledger)
        ).status_code
        == 422
    )


def test_a_rebuild_under_rules_no_brand_published_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    before = event_count(api_ledger)
    refused = client.post(
        f"{BASE}/rebuilds", json={"rules_version": 7}, headers=platform(api_ledger)
    )
    assert_refused(refused, 422, "rule-violated")
    assert refused.json()["highest_published"] == 0
    assert client.get(BASE, headers=platform(api_ledger)).json()["candidate"] is None
    assert (
        client.post(
            f"{BASE}/rebuilds", json={"rules_version": 0}, headers=platform(api_ledger)
        ).status_code
        == 202
    )
    api_ledger.commission_views.wait()
    assert event_count(api_ledger) == before
