"""A policy published without `effective_from` takes effect the instant it is published,
on a clock that moves between the request and the decision (as the system clock does)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from guideledger.platform.clock import ManualClock
from tests.world import World


@pytest.fixture
def ticking(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Every read of the clock is a millisecond after the one before."""

    def now() -> datetime:
        return clock.advance(timedelta(milliseconds=1))

    monkeypatch.setattr(clock, "now", now)
    return clock


DRAFTS = {
    "routing": {},
    "attribution": {},
    "commission": {"rates": [{"level": "guide", "rate_bp": 300}]},
}


@pytest.mark.parametrize("kind", list(DRAFTS))
def test_a_policy_without_effective_from_takes_effect_when_published(
    client: TestClient, world: World, ticking: ManualClock, kind: str
) -> None:
    response = client.post(f"/brands/{world.brand_id}/{kind}-policies", json=DRAFTS[kind])
    assert response.status_code == 201, response.text
    [policy] = client.get(f"/brands/{world.brand_id}/{kind}-policies").json()
    published = datetime.fromisoformat(policy["effective_from"])
    assert published <= ticking.now()
