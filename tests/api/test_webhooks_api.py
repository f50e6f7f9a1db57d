"""Webhooks: a group's endpoints get its events signed, in order, retried with back-off,
logged, and replayed from a position; a forged delivery is refused by the receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.error import HTTPError
from urllib.request import Request, urlopen
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from guideledger.composition import Ledger
from guideledger.feed.webhooks import sign
from guideledger.platform.clock import ManualClock
from tests.api.test_orders_api import delivered_order
from tests.webhook_receiver import Receiver, webhook_receiver
from tests.world import World


@pytest.fixture
def receiver(client: TestClient) -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        registered = client.post("/webhooks", json={"url": receiver.url})
        assert registered.status_code == 201, registered.text
        receiver.secret = registered.json()["secret"]
        receiver.endpoint_id = registered.json()["endpoint_id"]
        yield receiver


def deliver(ledger: Ledger) -> int:
    ledger.projections.process_all()
    return ledger.webhooks.dispatch()


def types_received(receiver: Receiver) -> list[str]:
    return [json.loads(body)["type"] for _headers, body in receiver.received]


def test_the_secret_is_shown_once_when_registered(client: TestClient) -> None:
    registered = client.post("/webhooks", json={"url": "https://payroll.example.com/hook"})
    assert registered.status_code == 201
    assert len(registered.json()["secret"]) >= 32
    [listed] = client.get("/webhooks").json()
    assert listed["endpoint_id"] == registered.json()["endpoint_id"]
    assert "secret" not in listed


def test_a_plain_http_url_off_loopback_is_refused_and_nothing_is_written(
    client: TestClient,
) -> None:
    refused = client.post("/webhooks", json={"url": "http://payroll.example.com/hook"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/webhooks").json() == []


def test_an_orders_events_arrive_signed_and_in_order_and_the_log_shows_them(
    client: TestClient, world: World, api_ledger: Ledger, receiver: Receiver
) -> None:
    order_id = delivered_order(client, world)

    assert deliver(api_ledger) == 3
    assert types_received(receiver) == ["order.allocated", "order.shipped", "order.delivered"]
    events = [json.loads(body) for _headers, body in receiver.received]
    assert {event["data"]["order_id"] for event in events} == {order_id}
    versions = [event["data"]["order_version"] for event in events]
    assert versions == sorted(versions)
    for headers, body in receiver.received:
        assert headers["guideledger-event-id"] == json.loads(body)["event_id"]
    log = client.get(f"/webhooks/{receiver.endpoint_id}/deliveries").json()
    assert [(d["event_type"], d["status"], d["attempts"]) for d in log] == [
        ("order.allocated", "delivered", 1),
        ("order.shipped", "delivered", 1),
        ("order.delivered", "delivered", 1),
    ]
    assert deliver(api_ledger) == 0  # nothing twice


def test_the_receiver_refuses_a_forged_or_altered_delivery(receiver: Receiver) -> None:
    body = b'{"type":"statement.paid"}'
    timestamp = str(int(time.time()))
    forged = sign("not-the-secret", timestamp, body)
    altered = sign(receiver.secret, timestamp, b'{"type":"order.refunded"}')
    stale = str(int(time.time()) - 3600)
    for signature, sent_at in (
        (forged, timestamp),
        (altered, timestamp),
        (sign(receiver.secret, stale, body), stale),
    ):
        request = Request(
            receiver.url,
            body,
            {"GuideLedger-Timestamp": sent_at, "GuideLedger-Signature": signature},
            method="POST",
        )
        with pytest.raises(HTTPError) as refused:
            urlopen(request, timeout=10)
        assert refused.value.code == 401
    assert receiver.refused == 3
    assert receiver.received == []


def test_a_failed_delivery_is_retried_with_back_off_and_later_ones_wait_behind_it(
    client: TestClient, world: World, api_ledger: Ledger, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.failures_left = 2
    delivered_order(client, world)
    deliveries = f"/webhooks/{receiver.endpoint_id}/deliveries"

    assert deliver(api_ledger) == 0
    [first, *waiting] = client.get(deliveries).json()
    assert (first["status"], first["attempts"], first["last_response"]) == ("pending", 1, "503")
    assert all(d["attempts"] == 0 for d in waiting)
    assert deliver(api_ledger) == 0  # not due again yet: nothing is sent
    assert receiver.failures_left == 1
    clock.advance(timedelta(seconds=30))
    assert deliver(api_ledger) == 0
    assert client.get(deliveries).json()[0]["attempts"] == 2
    clock.advance(timedelta(seconds=59))
    assert deliver(api_ledger) == 0  # the wait doubled: a minute this time
    clock.advance(timedelta(seconds=1))
    assert deliver(api_ledger) == 3
    assert types_received(receiver) == ["order.allocated", "order.shipped", "order.delivered"]


def test_a_replay_from_a_position_sends_the_events_from_there_again(
    client: TestClient, world: World, api_ledger: Ledger, receiver: Receiver
) -> None:
    delivered_order(client, world)
    deliver(api_ledger)
    endpoint = receiver.endpoint_id
    shipped = client.get(f"/webhooks/{endpoint}/deliveries").json()[1]

    replay = {"from_position": shipped["position"], "log": "orders"}
    replayed = client.post(f"/webhooks/{endpoint}/replay", json=replay)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"queued": 2}
    assert deliver(api_ledger) == 2
    again = [json.loads(body)["event_id"] for _headers, body in receiver.received[3:]]
    assert again == [
        shipped["event_id"],
        client.get(f"/webhooks/{endpoint}/deliveries").json()[2]["event_id"],
    ]


def test_a_removed_webhook_gets_nothing_more(
    client: TestClient, world: World, api_ledger: Ledger, receiver: Receiver, clock: ManualClock
) -> None:
    endpoint = receiver.endpoint_id
    receiver.failures_left = 1
    delivered_order(client, world)
    assert deliver(api_ledger) == 0  # queued, and waiting to be tried again
    assert client.delete(f"/webhooks/{endpoint}").status_code == 204
    delivered_order(client, world)
    clock.advance(timedelta(hours=1))  # the first order's deliveries are due again
    assert deliver(api_ledger) == 0
    assert receiver.received == []
    assert api_ledger.webhooks.deliveries(UUID(endpoint)) == []  # its queue went with it
    assert client.get(f"/webhooks/{endpoint}/deliveries").status_code == 404
