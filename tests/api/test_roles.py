"""Every role: one call it may make, one it may not (and a refusal writes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from fastapi.testclient import TestClient

from guideledger.api.auth import ALGORITHM, Role
from guideledger.composition import Ledger
from tests.api.conftest import bearer
from tests.api.test_orders_api import assert_refused, order_body
from tests.world import ADMIN, World, event_count


def test_no_bad_or_expired_token_is_401(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    anonymous = client.get(f"/brands/{world.brand_id}", headers={"Authorization": ""})
    assert_refused(anonymous, 401, "not-authenticated")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    garbage = client.get(f"/brands/{world.brand_id}", headers={"Authorization": "Bearer nope"})
    assert_refused(garbage, 401, "not-authenticated")
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(
        {"sub": "x", "role": "admin", "exp": past},
        api_ledger.settings.jwt_secret.get_secret_value(),
        ALGORITHM,
    )
    stale = client.get(f"/brands/{world.brand_id}", headers={"Authorization": f"Bearer {expired}"})
    assert_refused(stale, 401, "not-authenticated")


def test_frontend_places_orders_but_publishes_no_rules(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    frontend = bearer(api_ledger, Role.FRONTEND)
    assert client.post("/orders", json=order_body(world), headers=frontend).status_code == 201
    before = event_count(api_ledger)
    refused = client.post(f"/brands/{world.brand_id}/routing-policies", json={}, headers=frontend)
    assert_refused(refused, 403, "forbidden")
    assert event_count(api_ledger) == before


def test_guide_reads_own_statements_only_and_shares_only_as_themselves(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    other = api_ledger.organisation.hire_guide(
        ADMIN, world.brand_id, "G-2", "Sun", world.store_id
    ).id
    me = bearer(api_ledger, Role.GUIDE, "wang", guide_id=world.guide_id)
    assert client.get(f"/payees/guide/{world.guide_id}/statements", headers=me).status_code == 200
    refused = client.get(f"/payees/guide/{other}/statements", headers=me)
    assert_refused(refused, 403, "forbidden")
    assert_refused(
        client.get(f"/payees/store/{world.store_id}/balances", headers=me), 403, "forbidden"
    )
    shared = client.post(f"/guides/{world.guide_id}/shares", json={"kind": "qr_code"}, headers=me)
    assert shared.status_code == 201
    assert_refused(
        client.post(f"/guides/{other}/shares", json={"kind": "qr_code"}, headers=me),
        403,
        "forbidden",
    )


def test_store_manager_keeps_own_store_only(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    manager = bearer(api_ledger, Role.STORE_MANAGER, "boss", store_id=world.store_id)
    receipt = {"quantity": 5, "reference": "ASN-7"}
    own = client.post(
        f"/nodes/{world.store_id}/stock/{world.sku_ids[0]}/receipts", json=receipt, headers=manager
    )
    assert own.status_code == 201
    before = event_count(api_ledger)
    other = client.post(
        f"/nodes/{world.other_store_id}/stock/{world.sku_ids[0]}/receipts",
        json=receipt,
        headers=manager,
    )
    assert_refused(other, 403, "forbidden")
    assert event_count(api_ledger) == before
    assert (
        client.get(f"/payees/store/{world.store_id}/statements", headers=manager).status_code == 200
    )
    assert (
        client.get(f"/payees/guide/{world.guide_id}/statements", headers=manager).status_code == 200
    )
    assert_refused(
        client.get(f"/payees/store/{world.other_store_id}/statements", headers=manager),
        403,
        "forbidden",
    )


def test_finance_reads_the_trial_balance_but_runs_no_organisation(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    finance = bearer(api_ledger, Role.FINANCE, "chen")
    assert client.get(f"/brands/{world.brand_id}/trial-balance", headers=finance).status_code == 200
    brand = {
        "code": "X",
        "name": "X",
        "time_zone": "Asia/Shanghai",
        "settlement_cadence": "monthly",
    }
    assert_refused(client.post("/brands", json=brand, headers=finance), 403, "forbidden")


def test_support_reads_history_and_corrects_but_closes_no_period(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    order_id = client.post("/orders", json=order_body(world)).json()["id"]
    support = bearer(api_ledger, Role.SUPPORT, "zhang")
    assert client.get(f"/orders/{order_id}/history", headers=support).status_code == 200
    corrected = client.post(
        f"/orders/{order_id}/attribution-corrections",
        json={"store_id": str(world.other_store_id), "reason": "customer's store"},
        headers=support,
    )
    assert corrected.status_code == 200, corrected.text
    history = client.get(f"/orders/{order_id}/history", headers=support).json()
    assert history[-1]["actor"] == "support:zhang"
    refused = client.post(f"/brands/{world.brand_id}/periods/2026-10/close", headers=support)
    assert_refused(refused, 403, "forbidden")


def test_admin_may_do_everything(client: TestClient, world: World) -> None:
    assert client.post(f"/brands/{world.brand_id}/routing-policies", json={}).status_code == 201
    assert client.get(f"/brands/{world.brand_id}/trial-balance").status_code == 200
