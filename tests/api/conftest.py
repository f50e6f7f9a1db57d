from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from guideledger.api.app import create_app
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.payment_provider import signed_headers
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.conftest import make_settings
from tests.world import GROUP_ID, World, build_world, ensure_group


@pytest.fixture
def api_ledger(
    clock: ManualClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Ledger]:
    """The API's tests run on the embedded default, SQLite."""
    ledger = bootstrap(make_settings(Persistence.SQLITE, request, tmp_path), clock)
    ensure_group(ledger)  # as the platform's admins would have
    yield ledger
    ledger.close()


def bearer(ledger: Ledger, role: Role, subject: str = "test", **scope: UUID) -> dict[str, str]:
    """Headers for a caller with `role` (and `guide_id` or `store_id` scope)."""
    group_id = None if role is Role.PLATFORM_ADMIN else scope.pop("group_id", GROUP_ID)
    token = issue_token(ledger.settings, Caller(subject, role, group_id, **scope))
    return {"Authorization": f"Bearer {token}"}


def platform(ledger: Ledger) -> dict[str, str]:
    """Headers for the platform's admins: sweeps and read-model versions, across tenants."""
    return bearer(ledger, Role.PLATFORM_ADMIN, "ops")


@pytest.fixture
def client(api_ledger: Ledger) -> Iterator[TestClient]:
    """A client acting as an admin, who may do everything; tests of roles pass their own."""
    with TestClient(create_app(api_ledger), headers=bearer(api_ledger, Role.ADMIN)) as client:
        yield client


@pytest.fixture
def world(api_ledger: Ledger) -> World:
    return build_world(api_ledger)


def notification(
    order_id: UUID | str, amount_fen: int, paid_at: datetime, transaction_id: str | None = None
) -> dict[str, Any]:
    """What the payment provider says when it has taken the money."""
    return {
        "transaction_id": transaction_id or f"wx-{order_id}",
        "order_id": str(order_id),
        "amount_fen": amount_fen,
        "paid_at": paid_at.isoformat(),
    }


def notify(
    http: httpx.Client | TestClient,
    settings: Settings,
    body: dict[str, Any],
    now: float | None = None,
) -> Any:
    """Sends the notification signed as the provider signs it (at `now`, real time); the
    client's response."""
    raw = json.dumps(body).encode()
    headers = signed_headers(settings.payment_provider_secret.get_secret_value(), raw, now)
    return http.post("/payments/notifications", content=raw, headers=headers)


def pay(
    client: TestClient, order_id: UUID | str, amount_fen: int, transaction_id: str | None = None
) -> Any:
    """The provider reports the order paid now (the ledger's clock)."""
    ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
    body = notification(order_id, amount_fen, ledger.clock.now(), transaction_id)
    return notify(client, ledger.settings, body)
