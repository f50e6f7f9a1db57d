"""Payments come from the payment provider, in notifications it signs; the frontend can no
longer mark an order paid. A refused notification writes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.api.auth import Role
from guideledger.api.payment_provider import (
    SIGNATURE_HEADER,
    SIGNATURE_WINDOW_SECONDS,
    TIMESTAMP_HEADER,
    signed_headers,
)
from guideledger.composition import Ledger
from tests.api.conftest import bearer, notification, notify
from tests.api.test_orders_api import TOTAL, assert_refused, place
from tests.world import World, event_count

NOTIFICATIONS = "/payments/notifications"


@pytest.fixture
def provider(api_ledger: Ledger) -> Iterator[TestClient]:
    """The payment provider: no bearer token, only its signature."""
    with TestClient(create_app(api_ledger)) as client:
        yield client


@pytest.fixture
def order_id(client: TestClient, world: World) -> str:
    order_id: str = place(client, world)["id"]
    return order_id


def paid_in_full(ledger: Ledger, order_id: str, transaction_id: str = "4200000001") -> Any:
    return notification(order_id, TOTAL, ledger.clock.now(), transaction_id)


def test_a_signed_notification_pays_the_order_without_a_bearer_token(
    provider: TestClient, client: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    response = notify(provider, api_ledger.settings, paid_in_full(api_ledger, order_id))
    assert response.status_code == 200, response.text
    assert response.json() == {"id": order_id, "version": 4}
    order = client.get(f"/orders/{order_id}").json()
    assert (order["status"], order["paid_fen"]) == ("paid", TOTAL)
    assert order["transaction_id"] == "4200000001"


def test_the_same_notification_delivered_again_answers_alike_and_writes_nothing(
    provider: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    body = paid_in_full(api_ledger, order_id)
    first = notify(provider, api_ledger.settings, body)
    before = event_count(api_ledger)
    again = notify(provider, api_ledger.settings, body)
    assert (again.status_code, again.json()) == (200, first.json())
    assert event_count(api_ledger) == before


def signed(api_ledger: Ledger, body: dict[str, Any], **changes: str) -> dict[str, str]:
    raw = json.dumps(body).encode()
    secret = api_ledger.settings.payment_provider_secret.get_secret_value()
    return {**signed_headers(secret, raw), **changes}


REFUSED_SIGNATURES: list[tuple[str, Any]] = [
    ("no signature", lambda h: {k: v for k, v in h.items() if k != SIGNATURE_HEADER}),
    ("no timestamp", lambda h: {k: v for k, v in h.items() if k != TIMESTAMP_HEADER}),
    ("wrong signature", lambda h: {**h, SIGNATURE_HEADER: "0" * 64}),
    ("signature of another body", lambda h: {**h, SIGNATURE_HEADER: h["other"]}),
    ("timestamp not signed", lambda h: {**h, TIMESTAMP_HEADER: str(int(time.time()) + 1)}),
    ("timestamp not a number", lambda h: {**h, TIMESTAMP_HEADER: "soon"}),
    ("signature not ascii", lambda h: {**h, SIGNATURE_HEADER: "é".encode("latin-1") * 64}),
]


@pytest.mark.parametrize(
    "tamper", [t for _, t in REFUSED_SIGNATURES], ids=[n for n, _ in REFUSED_SIGNATURES]
)
def test_a_notification_without_the_providers_signature_is_refused_and_writes_nothing(
    provider: TestClient, api_ledger: Ledger, order_id: str, tamper: Any
) -> None:
    body = paid_in_full(api_ledger, order_id)
    other = signed(api_ledger, {**body, "amount_fen": 1})[SIGNATURE_HEADER]
    headers = tamper({**signed(api_ledger, body), "other": other})
    headers.pop("other", None)
    before = event_count(api_ledger)
    response = provider.post(NOTIFICATIONS, content=json.dumps(body).encode(), headers=headers)
    assert_refused(response, 401, "payment-signature-refused")
    secret = api_ledger.settings.payment_provider_secret.get_secret_value()
    assert secret not in response.text
    assert event_count(api_ledger) == before


@pytest.mark.parametrize(
    "seconds_away", [-SIGNATURE_WINDOW_SECONDS - 60, SIGNATURE_WINDOW_SECONDS + 60]
)
def test_a_notification_signed_outside_the_window_is_refused(
    provider: TestClient, api_ledger: Ledger, order_id: str, seconds_away: int
) -> None:
    before = event_count(api_ledger)
    body = paid_in_full(api_ledger, order_id)
    stale = notify(provider, api_ledger.settings, body, now=time.time() + seconds_away)
    assert_refused(stale, 401, "payment-signature-refused")
    assert event_count(api_ledger) == before
    assert notify(provider, api_ledger.settings, body).status_code == 200


def test_a_bearer_token_is_no_signature(
    client: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    before = event_count(api_ledger)
    body = paid_in_full(api_ledger, order_id)
    response = client.post(NOTIFICATIONS, json=body)  # as the admin
    assert_refused(response, 401, "payment-signature-refused")
    assert event_count(api_ledger) == before


def test_the_frontend_can_no_longer_mark_an_order_paid(
    client: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    frontend = bearer(api_ledger, Role.FRONTEND)
    before = event_count(api_ledger)
    old_way = client.post(
        f"/orders/{order_id}/payment",
        json={"amount_fen": TOTAL, "payment_ref": "wx"},
        headers=frontend,
    )
    assert old_way.status_code in {404, 405}
    assert event_count(api_ledger) == before
    assert client.get(f"/orders/{order_id}").json()["status"] == "awaiting_payment"


def test_another_transaction_for_a_paid_order_is_a_conflict(
    provider: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    notify(provider, api_ledger.settings, paid_in_full(api_ledger, order_id, "4200000001"))
    before = event_count(api_ledger)
    twice = notify(provider, api_ledger.settings, paid_in_full(api_ledger, order_id, "4200000002"))
    assert_refused(twice, 409, "order-already-paid")
    assert twice.json()["transaction_id"] == "4200000001"
    assert event_count(api_ledger) == before


def test_a_transaction_id_reported_with_other_facts_is_a_conflict(
    provider: TestClient, client: TestClient, api_ledger: Ledger, world: World, order_id: str
) -> None:
    notify(provider, api_ledger.settings, paid_in_full(api_ledger, order_id))
    other_order = place(client, world)["id"]
    before = event_count(api_ledger)
    reused = notify(provider, api_ledger.settings, paid_in_full(api_ledger, other_order))
    assert_refused(reused, 409, "payment-transaction-reused")
    assert event_count(api_ledger) == before


def test_an_amount_other_than_the_order_total_is_refused(
    provider: TestClient, api_ledger: Ledger, order_id: str
) -> None:
    before = event_count(api_ledger)
    body = {**paid_in_full(api_ledger, order_id), "amount_fen": TOTAL - 1}
    response = notify(provider, api_ledger.settings, body)
    assert_refused(response, 422, "wrong-payment-amount")
    assert response.json()["total_fen"] == TOTAL
    assert event_count(api_ledger) == before


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("amount as text", {"amount_fen": str(TOTAL)}),
    ("paid_at without a time zone", {"paid_at": "2026-11-02T09:00:00"}),
    ("blank transaction id", {"transaction_id": " "}),
    ("unknown field", {"coupon": "FREE"}),
]


@pytest.mark.parametrize("change", [c for _, c in MALFORMED], ids=[n for n, _ in MALFORMED])
def test_a_signed_but_malformed_notification_is_refused_and_writes_nothing(
    provider: TestClient, api_ledger: Ledger, order_id: str, change: dict[str, Any]
) -> None:
    before = event_count(api_ledger)
    response = notify(
        provider, api_ledger.settings, {**paid_in_full(api_ledger, order_id), **change}
    )
    assert_refused(response, 422, "validation-error")
    assert event_count(api_ledger) == before


def test_a_notification_for_an_unknown_order_is_not_found(
    provider: TestClient, api_ledger: Ledger
) -> None:
    body = paid_in_full(api_ledger, "00000000-0000-0000-0000-000000000000")
    assert_refused(notify(provider, api_ledger.settings, body), 404, "not-found")
