"""A rule change through the API, end to end: a proposal previewed in the brand's candidate
commission view, its diff read by finance, promoted by an admin (booked as corrections,
the proposal published) or discarded (nothing booked)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.commissions.application.base import COMMISSION
from guideledger.commissions.domain.rules import Payee, PayeeLevel
from guideledger.composition import Ledger
from guideledger.kernel.policies import PolicyBook
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer
from tests.api.test_orders_api import assert_refused, delivered_order
from tests.world import World, event_count

PROPOSAL = {
    "rates": [{"level": "guide", "rate_bp": 500}, {"level": "store", "rate_bp": 100}],
    "top_guide_bonus_fen": 0,
    "effective_from": "2026-11-01T00:00:00+08:00",
}


def test_a_proposal_is_previewed_then_promoted_into_the_books(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    order_id = delivered_order(client, world)
    clock.advance(timedelta(days=7))
    api_ledger.projections.process_all()
    api_ledger.commissions.mature_due()
    finance = bearer(api_ledger, Role.FINANCE)
    base = f"/brands/{world.brand_id}/commission-view"
    guide = Payee(PayeeLevel.GUIDE, world.guide_id).key
    serving = client.get(base, params={"period": "2026-11"}, headers=finance).json()
    assert {r["payee"]: r["amount_fen"] for r in serving}[guide] == 951  # 3% of 31,700 fen

    refused = client.post(f"{base}/rebuilds", json={"proposal": PROPOSAL}, headers=finance)
    assert_refused(refused, 403, "forbidden")
    started = client.post(f"{base}/rebuilds", json={"proposal": PROPOSAL})
    assert started.status_code == 202, started.text
    assert (started.json()["candidate"], started.json()["proposal"]["version"]) == (1, 1)
    api_ledger.commission_views.wait()
    assert client.get(f"{base}/candidate", headers=finance).json()["ready"] is True

    diff = {d["payee"]: d for d in client.get(f"{base}/diff", headers=finance).json()}
    assert diff[guide] == {
        "payee": guide,
        "period": "2026-11",
        "old_fen": 951,
        "new_fen": 1585,
        "difference_fen": 634,
        "orders": [{"order_id": order_id, "old_fen": 951, "new_fen": 1585, "difference_fen": 634}],
        "correction_period": "2026-11",
    }
    assert_refused(client.post(f"{base}/promote", headers=finance), 403, "forbidden")
    before = event_count(api_ledger)
    promoted = client.post(f"{base}/promote", headers={"Idempotency-Key": "promote-1"})
    assert promoted.status_code == 200, promoted.text
    book = PolicyBook.create_id(world.brand_id, COMMISSION)
    assert promoted.json() == {"id": str(book), "version": 2}
    booked = event_count(api_ledger)
    assert booked > before
    again = client.post(f"{base}/promote", headers={"Idempotency-Key": "promote-1"})
    assert (again.status_code, again.json()) == (200, promoted.json())
    assert event_count(api_ledger) == booked

    statement = client.get(
        f"/payees/guide/{world.guide_id}/statements/2026-11", headers=finance
    ).json()
    [correction] = [line for line in statement["lines"] if line["kind"] == "correction"]
    assert (correction["amount_fen"], UUID(correction["order_id"])) == (634, UUID(order_id))
    assert (correction["previous_rule_version"], correction["rule_version"]) == (0, 1)
    assert statement["total_fen"] == 1585
    after = client.get(base, params={"period": "2026-11"}, headers=finance).json()
    assert {r["payee"]: r["amount_fen"] for r in after}[guide] == 1585
    trial = client.get(f"/brands/{world.brand_id}/trial-balance", headers=finance).json()
    assert trial["total_fen"] == 0
    audit = client.get(f"/brands/{world.brand_id}/periods/2026-11/audit", headers=finance)
    assert audit.json()["clean"] is True
    assert_refused(client.get(f"{base}/candidate", headers=finance), 404, "not-found")
    [policy] = client.get(f"/brands/{world.brand_id}/commission-policies").json()
    assert policy["rates"][0]["rate_bp"] == 500


def test_a_candidate_under_the_published_rules_is_discarded_and_books_nothing(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    delivered_order(client, world)
    api_ledger.projections.process_all()  # the commission process accrues it
    base = f"/brands/{world.brand_id}/commission-view"
    before = event_count(api_ledger)
    assert client.post(f"{base}/rebuilds", json={}).status_code == 202
    assert_refused(client.post(f"{base}/rebuilds", json={}), 409, "conflict")
    api_ledger.commission_views.wait()
    assert client.get(f"{base}/diff").json() == []
    assert client.post(f"{base}/discard").status_code == 204
    assert_refused(client.post(f"{base}/discard"), 404, "not-found")
    assert event_count(api_ledger) == before


def test_a_proposal_that_could_not_be_published_is_refused(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    base = f"/brands/{world.brand_id}/commission-view"
    finance = bearer(api_ledger, Role.FINANCE)
    assert client.post(f"/brands/{world.brand_id}/periods/2026-10/close", headers=finance)
    october = {**PROPOSAL, "effective_from": "2026-10-20T00:00:00+08:00"}
    refused = client.post(f"{base}/rebuilds", json={"proposal": october})
    assert_refused(refused, 422, "period-closed")
    assert refused.json()["period"] == "2026-10"
    invalid = client.post(f"{base}/rebuilds", json={"proposal": {"rates": []}})
    assert_refused(invalid, 422, "validation-error")
    assert_refused(client.get(f"{base}/candidate"), 404, "not-found")
