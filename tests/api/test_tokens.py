"""A token names its issuer, audience, subject, group and scope, and lives a bounded time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import ALGORITHM
from guideledger.composition import Ledger
from guideledger.platform.settings import Settings
from tests.api.test_orders_api import assert_refused
from tests.world import GROUP_ID, World


def signed(ledger: Ledger, **changes: Any) -> dict[str, str]:
    """Headers with an admin token of the world's group, its claims changed (None drops one)."""
    settings = ledger.settings
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "someone",
        "role": "admin",
        "group_id": str(GROUP_ID),
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), ALGORITHM)
    return {"Authorization": f"Bearer {token}"}


REFUSED = {
    "no audience": {"aud": None},
    "another audience": {"aud": "someone-else"},
    "no issuer": {"iss": None},
    "another issuer": {"iss": "evil"},
    "no issue time": {"iat": None},
    "an empty subject": {"sub": ""},
    "a blank subject": {"sub": "   "},
    "the year 9999": {"exp": datetime(9999, 12, 31, tzinfo=UTC)},
    "a week's life": {"exp": datetime.now(UTC) + timedelta(days=7)},
    "issued in the future": {"iat": datetime.now(UTC) + timedelta(hours=1)},
    "no group": {"group_id": None},
    "a guide without their id": {"role": "guide"},
    "a store manager without a store": {"role": "store_manager"},
    "the platform inside a group": {"role": "platform_admin"},
    "a frontend narrowed to a brand": {"role": "frontend", "brand_id": str(GROUP_ID)},
    "an unknown role": {"role": "root"},
}


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_a_token_missing_a_claim_or_living_too_long_is_refused(
    client: TestClient, world: World, api_ledger: Ledger, changes: dict[str, Any]
) -> None:
    response = client.get(f"/brands/{world.brand_id}", headers=signed(api_ledger, **changes))
    assert_refused(response, 401, "not-authenticated")


def test_a_well_formed_token_is_admitted(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    assert client.get(f"/brands/{world.brand_id}", headers=signed(api_ledger)).status_code == 200


def test_the_ledger_issues_no_token_longer_than_it_accepts() -> None:
    with pytest.raises(ValueError, match="token_max_minutes"):
        Settings(token_minutes=600, token_max_minutes=60)
