"""A member's personal data is sealed under their own key; forgetting them deletes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from tests.api.conftest import pay
from tests.api.test_orders_api import TOTAL, assert_refused, order_body
from tests.world import World

PHONE = "+86 139 1234 5678"
NAME = "韩梅梅 Han Meimei"
ADDRESS = "上海市静安区南京西路 1266 号 1266 West Nanjing Road"


def stored_bytes(ledger: Ledger) -> bytes:
    """Every event every application ever stored, as the database holds it."""
    applications = (ledger.organisation, ledger.orders, ledger.engagement, ledger.commissions)
    return b"".join(
        n.state
        for app in applications
        for n in app.recorder.select_notifications(start=1, limit=100_000)
    )


def member_with_an_order(client: TestClient, world: World) -> tuple[str, str]:
    member = client.post("/members", json={"member_no": "M-HAN", "name": NAME, "phone": PHONE})
    member_id = member.json()["id"]
    body = order_body(world, member_id=member_id)
    body["delivery"]["address"] = ADDRESS
    order_id = client.post("/orders", json=body).json()["id"]
    pay(client, order_id, TOTAL)
    return member_id, order_id


def test_personal_data_never_reaches_the_event_store_in_clear(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    member_id, order_id = member_with_an_order(client, world)
    assert client.get(f"/members/{member_id}").json()["phone"] == PHONE
    assert client.get(f"/orders/{order_id}").json()["delivery"]["address"] == ADDRESS
    stored = stored_bytes(api_ledger)
    for secret in (PHONE, NAME, ADDRESS):
        assert secret.encode() not in stored
        assert secret.encode("unicode_escape") not in stored


def test_a_forgotten_member_is_unreadable_and_the_books_stay_whole(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    member_id, order_id = member_with_an_order(client, world)
    api_ledger.projections.process_all()
    forgotten = client.post(f"/members/{member_id}/forget", json={"reason": "right to erasure"})
    assert forgotten.status_code == 200, forgotten.text

    member = client.get(f"/members/{member_id}").json()
    assert (member["name"], member["phone"], member["forgotten"]) == (None, None, True)
    order = client.get(f"/orders/{order_id}").json()
    assert order["delivery"]["address"] is None
    assert (order["status"], order["paid_fen"]) == ("paid", TOTAL)
    assert client.get(f"/orders/{order_id}/attribution").json()["guide_id"] == str(world.guide_id)
    assert client.get(f"/brands/{world.brand_id}/trial-balance").json()["total_fen"] == 0
    balances = client.get(f"/payees/guide/{world.guide_id}/balances").json()
    assert balances["pending"] > 0
    again = client.post(f"/members/{member_id}/forget", json={"reason": "twice"})
    assert_refused(again, 422, "rule-violated")
