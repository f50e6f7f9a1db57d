"""Every operation in the OpenAPI spec, called on one group's things with a token of another
group and with a token narrowed to another brand of the same group: refused, nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.kernel.periods import SettlementCadence
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.units import Region
from tests.api.conftest import bearer, pay
from tests.api.test_orders_api import TOTAL, order_body
from tests.world import ADMIN, GROUP_ID, World, ensure_group, event_count

RIVAL = "RIVAL-GROUP"

# Operations across tenants, for the platform's admins only (see the README's roles table).
CROSS_TENANT = {
    "registerGroup",
    "getGroup",
    "moveGroup",
    "expireUnpaidOrders",
    "matureCommissions",
    "getSandboxClock",  # the sandbox's clock is every tenant's
    "moveSandboxClock",
}
PUBLIC = {"health", "ready", "metrics", "notifyPayment"}  # no token (the last is signed)
# Operations on the group's one member base: a token narrowed to a brand still reaches them.
GROUP_WIDE = {"getMember", "forgetMember", "getMemberByNumber", "registerMember"}
# Operations naming no id in their path, and what they are sent to reach the first group.
BODIES = {
    "placeOrder": lambda world: order_body(world),
    "bindMember": lambda world: {
        "brand_id": str(world.brand_id),
        "guide_id": str(world.guide_id),
        "reason": "asked",
    },
    "registerMember": lambda world: {
        "member_no": "M-NEW",
        "name": "Zhao",
        "phone": "13800000009",
        "registered_at_store_id": str(world.store_id),
    },
    "replayWebhook": lambda _world: {"from_position": 0},
}
# Operations that act only inside the caller's own group by construction (no id to reach
# another's): what each finds or makes there is the caller's own.
OWN_GROUP = {
    "registerBrand",
    "getBrandByCode",
    "getMemberByNumber",
    "registerMember",
    "registerWebhook",
    "listWebhooks",
}


@dataclass(frozen=True)
class Target:
    world: World
    order_id: UUID
    share_code: str
    endpoint_id: UUID

    def path_values(self) -> dict[str, str]:
        world = self.world
        return {
            "brand_id": str(world.brand_id),
            "region_id": str(_region_of(world)),
            "district_id": str(world.district_id),
            "branch_id": str(world.branch_id),
            "node_id": str(world.store_id),
            "sku_id": str(world.sku_ids[0]),
            "guide_id": str(world.guide_id),
            "member_id": str(world.member_id),
            "order_id": str(self.order_id),
            "share_code": self.share_code,
            "level": "guide",
            "payee_id": str(world.guide_id),
            "period": "2026-11",
            "shipment_id": "s1",
            "code": "ACME",
            "member_no": "M0001",
            "endpoint_id": str(self.endpoint_id),
        }


def _region_of(world: World) -> UUID:
    return Region.create_id(world.brand_id, "R-EAST")


@pytest.fixture
def target(client: TestClient, world: World, api_ledger: Ledger) -> Target:
    mall = bearer(api_ledger, Role.FRONTEND, "mall")
    order_id = client.post("/orders", json=order_body(world), headers=mall).json()["id"]
    pay(client, order_id, TOTAL)
    share = client.post(f"/guides/{world.guide_id}/shares", json={"kind": "qr_code"}).json()
    ensure_group(api_ledger, RIVAL)
    api_ledger.organisation.register_brand(
        ADMIN, GROUP_ID, "OTHER", "Other", "Asia/Shanghai", SettlementCadence.MONTHLY
    )
    webhook = client.post("/webhooks", json={"url": "https://example.com/hook"}).json()
    return Target(world, UUID(order_id), share["share_code"], UUID(webhook["endpoint_id"]))


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [
        (method, path, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if op["operationId"] not in PUBLIC | CROSS_TENANT
    ]


def _call(
    client: TestClient, method: str, path: str, op: dict[str, Any], target: Target, headers: Any
) -> Any:
    url = path.format(**target.path_values())
    body = BODIES.get(op["operationId"], lambda _world: {})(target.world)
    if method in {"get", "delete"}:
        return client.request(method.upper(), url, headers=headers)
    return client.request(method.upper(), url, json=body, headers=headers)


def _assert_refused(response: Any, name: str) -> None:
    assert response.status_code in {403, 404}, (name, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), name


def test_another_groups_token_reaches_nothing_of_this_group(
    client: TestClient, target: Target, api_ledger: Ledger
) -> None:
    """Each role of the rival group that the operation admits, and its admin for all."""
    rival_group = ensure_group(api_ledger, RIVAL)
    for method, path, op in _operations(client):
        name = op["operationId"]
        if name in OWN_GROUP and "{" not in path and name not in BODIES:
            continue  # e.g. registering a brand: it is made in the caller's own group
        before = event_count(api_ledger)
        for role in (Role.ADMIN, Role.SUPPORT, Role.FINANCE, Role.FRONTEND):
            headers = bearer(api_ledger, role, "rival", group_id=rival_group)
            response = _call(client, method, path, op, target, headers)
            if response.status_code == 403 and "may not do this" in response.text:
                continue  # the role itself is refused before anything is looked at
            _assert_refused(response, f"{name} as the rival's {role}")
        assert event_count(api_ledger) == before, name


def test_a_token_narrowed_to_another_brand_reaches_nothing_of_this_brand(
    client: TestClient, target: Target, api_ledger: Ledger
) -> None:
    other_brand = Brand.create_id(GROUP_ID, "OTHER")
    headers = bearer(api_ledger, Role.ADMIN, "other-brand", brand_id=other_brand)
    for method, path, op in _operations(client):
        name = op["operationId"]
        if name in GROUP_WIDE or (name in OWN_GROUP and "{" not in path):
            continue
        before = event_count(api_ledger)
        _assert_refused(_call(client, method, path, op, target, headers), name)
        assert event_count(api_ledger) == before, name


def test_what_is_made_or_found_by_code_is_the_callers_groups(
    client: TestClient, target: Target, api_ledger: Ledger
) -> None:
    rival_group = ensure_group(api_ledger, RIVAL)
    rival = bearer(api_ledger, Role.ADMIN, "rival", group_id=rival_group)
    assert client.get("/brands/by-code/ACME", headers=rival).status_code == 404
    assert client.get("/members/by-number/M0001", headers=rival).status_code == 404
    body = {
        "code": "ACME",
        "name": "Rival Acme",
        "time_zone": "UTC",
        "settlement_cadence": "monthly",
    }
    made = client.post("/brands", json=body, headers=rival)
    assert made.status_code == 201, made.text
    assert made.json()["id"] == str(Brand.create_id(rival_group, "ACME"))
    assert client.get("/brands/by-code/ACME", headers=rival).json()["name"] == "Rival Acme"
    assert client.get("/brands/by-code/ACME").json()["name"] == "Acme Sport"


def test_the_platforms_admins_make_groups_and_see_inside_none(
    client: TestClient, target: Target, api_ledger: Ledger
) -> None:
    platform = bearer(api_ledger, Role.PLATFORM_ADMIN, "ops")
    made = client.post("/groups", json={"code": "NEW", "name": "新集团"}, headers=platform)
    assert made.status_code == 201, made.text
    assert client.get(f"/groups/{made.json()['id']}", headers=platform).json()["code"] == "NEW"
    assert client.get(f"/brands/{target.world.brand_id}", headers=platform).status_code == 403
    admin = client.post("/groups", json={"code": "MINE", "name": "x"})
    assert admin.status_code == 403


def test_a_frontend_reads_only_the_orders_it_placed(
    client: TestClient, target: Target, api_ledger: Ledger
) -> None:
    mall = bearer(api_ledger, Role.FRONTEND, "mall")
    other_app = bearer(api_ledger, Role.FRONTEND, "mini-program")
    assert client.get(f"/orders/{target.order_id}", headers=mall).status_code == 200
    assert client.get(f"/orders/{target.order_id}", headers=other_app).status_code == 404
