"""A member's personal data is sealed under their own key; forgetting them deletes it."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from guideledger.organisation.domain.members import Member
from tests.api.conftest import pay
from tests.api.test_orders_api import TOTAL, assert_refused, order_body
from tests.world import GROUP_ID, World

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


MEMBER_NO = "M13912345678"
EXACT = {"latitude": 31.230416, "longitude": 121.473701}
AREA = {"latitude": 31.23, "longitude": 121.47}
NOTE = "Wang Fang 推荐 call 13912345678"
RETURN_REASON = "太小了 too small for my son Li Ming"
CANCEL_REASON = "moving to 北京市朝阳区 next week"


def a_members_story(client: TestClient, world: World) -> tuple[str, str, str]:
    """A member, an order noted for a guide that is delivered and partly returned, and a
    second order cancelled, each with the customer's words."""
    member = client.post("/members", json={"member_no": MEMBER_NO, "name": NAME, "phone": PHONE})
    member_id = member.json()["id"]
    body = order_body(
        world,
        member_id=member_id,
        delivery={"address": ADDRESS, "location": EXACT},
        evidence={"channel": "store_account", "store_id": str(world.store_id), "guide_note": NOTE},
    )
    order_id = client.post("/orders", json=body).json()["id"]
    pay(client, order_id, TOTAL)
    [node_id] = client.get(f"/orders/{order_id}").json()["allocated_nodes"]
    lines = [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]
    shipment = {"shipment_id": "s1", "node_id": node_id, "lines": lines}
    assert client.post(f"/orders/{order_id}/shipments", json=shipment).status_code == 200
    assert client.post(f"/orders/{order_id}/shipments/s1/delivery", json={}).status_code == 200
    returned = {"return_id": "r1", "line_no": 1, "quantity": 1, "reason": RETURN_REASON}
    assert client.post(f"/orders/{order_id}/returns", json=returned).status_code == 200
    body["delivery"] = {"address": ADDRESS, "location": EXACT}
    cancelled_id = client.post("/orders", json=body).json()["id"]
    cancel = client.post(f"/orders/{cancelled_id}/cancellation", json={"reason": CANCEL_REASON})
    assert cancel.status_code == 200, cancel.text
    return member_id, order_id, cancelled_id


def every_read(client: TestClient, member_id: str, order_ids: tuple[str, ...]) -> list[Any]:
    """What support and the frontends can read of the member and their orders."""
    reads = [f"/members/{member_id}", f"/members/by-number/{MEMBER_NO}"]
    for order_id in order_ids:
        reads += [
            f"/orders/{order_id}",
            f"/orders/{order_id}?as_of=2100-01-01T00:00:00Z",
            f"/orders/{order_id}/history",
            f"/orders/{order_id}/timeline",
            f"/orders/{order_id}/routing",
            f"/orders/{order_id}/attribution",
        ]
    responses = [client.get(path) for path in reads]
    assert [r.status_code for r in responses] == [200] * len(reads), [r.text for r in responses]
    return [r.json() for r in responses]


def points_and_distances(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("latitude", "longitude", "distance_km"):
                yield key, item
            yield from points_and_distances(item)
    elif isinstance(value, list):
        for item in value:
            yield from points_and_distances(item)


SECRETS = (NAME, PHONE, MEMBER_NO, ADDRESS, NOTE, RETURN_REASON, CANCEL_REASON)


def test_after_forgetting_no_read_and_no_stored_event_holds_the_members_data(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    member_id, order_id, cancelled_id = a_members_story(client, world)
    api_ledger.projections.process_all()
    before = json.dumps(every_read(client, member_id, (order_id, cancelled_id)), ensure_ascii=False)
    assert all(secret in before for secret in SECRETS), "read while the member is known"
    assert str(EXACT["latitude"]) in before

    forgotten = client.post(f"/members/{member_id}/forget", json={"reason": "right to erasure"})
    assert forgotten.status_code == 200, forgotten.text

    reads = every_read(client, member_id, (order_id, cancelled_id))
    shown = json.dumps(reads, ensure_ascii=False)
    assert [secret for secret in SECRETS if secret in shown] == []
    for key, value in points_and_distances(reads):
        if key == "distance_km":
            assert value is None
        else:
            assert value == round(value, 2), f"{key} {value} is finer than the area"
    order = reads[2]
    assert order["delivery"] == {"address": None, "location": AREA}
    assert (order["evidence"]["guide_note"], order["status"]) == (None, "delivered")
    assert order["lines"][0]["returned"] == 1

    stored = stored_bytes(api_ledger)
    for secret in SECRETS:
        assert secret.encode() not in stored
        assert secret.encode("unicode_escape") not in stored
    for degrees in EXACT.values():
        assert struct.pack(">d", degrees) not in stored
        assert str(degrees).encode() not in stored


def test_a_number_recorded_before_numbers_were_sealed_shows_until_the_member_is_forgotten(
    client: TestClient, api_ledger: Ledger
) -> None:
    """A member registered then: the number in the clear (in JSON), name and phone sealed."""
    organisation = api_ledger.organisation
    member_id = client.post("/members", json={"member_no": "M-OLD", "name": NAME, "phone": PHONE})
    [stored] = organisation.recorder.select_events(UUID(member_id.json()["id"]))
    registered = organisation.mapper.to_domain_event(stored)
    old_id = Member.create_id(GROUP_ID, MEMBER_NO)
    vars(registered).update(originator_id=old_id, member_no=MEMBER_NO)
    vars(registered).update(name=organisation.vault.seal(old_id, NAME))
    json_mapper: Mapper[UUID] = Mapper(organisation.mapper.transcoder)
    organisation.recorder.insert_events([json_mapper.to_stored_event(registered)])

    assert client.get(f"/members/by-number/{MEMBER_NO}").json()["member_no"] == MEMBER_NO
    client.post(f"/members/{old_id}/forget", json={"reason": "right to erasure"})
    assert client.get(f"/members/by-number/{MEMBER_NO}").json()["member_no"] is None
