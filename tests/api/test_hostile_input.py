"""Schemathesis against the service's own OpenAPI spec: whatever arrives, no 5xx, every
response matches the spec, and a refused request writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from guideledger.api.app import create_app
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.bootstrap import bootstrap
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.world import GROUP_ID, build_world, event_count

LEDGER = bootstrap(
    Settings(persistence=Persistence.MEMORY), ManualClock(datetime(2026, 11, 2, 1, tzinfo=UTC))
)
WORLD = build_world(LEDGER)
APP = create_app(LEDGER)
ADMIN = {
    "Authorization": f"Bearer {issue_token(LEDGER.settings, Caller('fuzz', Role.ADMIN, GROUP_ID))}"
}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_refusals_write_nothing(case: schemathesis.Case) -> None:
    before = event_count(LEDGER)
    response = case.call(headers=ADMIN)
    not_ready = case.path == "/ready" and response.status_code == 503  # documented: read models lag
    assert response.status_code < 500 or not_ready, response.text
    case.validate_response(response, checks=(response_schema_conformance,))
    if response.status_code >= 400:
        assert event_count(LEDGER) == before, response.text
