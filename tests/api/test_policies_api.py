"""A policy published without `effective_from` takes effect the instant it is published,
on a clock that moves between the request and the decision (as the system clock does);
only a commission policy may take effect in the past, and only while every period it
reaches is open."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer
from tests.api.test_orders_api import assert_refused
from tests.world import World, event_count


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


@pytest.mark.parametrize("kind", ["routing", "attribution"])
def test_routing_and_attribution_policies_take_effect_now_or_later(
    client: TestClient, world: World, kind: str
) -> None:
    past = {**DRAFTS[kind], "effective_from": "2026-11-01T00:00:00Z"}
    refused = client.post(f"/brands/{world.brand_id}/{kind}-policies", json=past)
    assert_refused(refused, 422, "rule-violated")


def test_a_commission_policy_may_reach_back_into_open_periods_only(
    client: TestClient, world: World, api_ledger: Ledger
) -> None:
    finance = bearer(api_ledger, Role.FINANCE)
    closed = client.post(f"/brands/{world.brand_id}/periods/2026-10/close", headers=finance)
    assert closed.status_code == 200, closed.text
    before = event_count(api_ledger)
    october = {**DRAFTS["commission"], "effective_from": "2026-10-20T00:00:00+08:00"}
    refused = client.post(f"/brands/{world.brand_id}/commission-policies", json=october)
    assert_refused(refused, 422, "period-closed")
    assert refused.json()["period"] == "2026-10"
    assert event_count(api_ledger) == before

    november = "2026-11-01T00:00:00+08:00"
    accepted = client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={**DRAFTS["commission"], "effective_from": november},
    )
    assert accepted.status_code == 201, accepted.text
    [policy] = client.get(f"/brands/{world.brand_id}/commission-policies").json()
    assert datetime.fromisoformat(policy["effective_from"]) == datetime.fromisoformat(november)
