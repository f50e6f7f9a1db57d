"""Health, readiness, metrics, and a request id on every log line and response."""

from __future__ import annotations

import json
import logging
import random
import string

import pytest
from fastapi.testclient import TestClient

from guideledger.api.routers import operations
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.platform.observability import REQUEST_ID, configure_logging
from tests.api.test_orders_api import delivered_order
from tests.world import World


def test_health_and_readiness_need_no_token(client: TestClient, api_ledger: Ledger) -> None:
    assert client.get("/health", headers={"Authorization": ""}).json() == {"status": "ok"}
    ready = client.get("/ready", headers={"Authorization": ""})
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert {lag["projection"] for lag in body["projections"]} == set(
        api_ledger.projections.projections
    ) - {"webhook_orders", "webhook_statements"}  # the event feed serves no reads


def test_readiness_ignores_the_event_feed_behind(
    client: TestClient, world: World, api_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "READY_LAG_SECONDS", -1.0)  # any pending event counts
    delivered_order(client, world)
    feeds = {"webhook_orders", "webhook_statements"}
    serving = [name for name in api_ledger.projections.projections if name not in feeds]
    while sum(api_ledger.projections.process(name) for name in serving):
        pass  # a process manager's commands feed the read models after it
    assert not api_ledger.projections.caught_up("webhook_orders")

    assert client.get("/ready").status_code == 200


def test_readiness_fails_while_a_read_model_lags(
    client: TestClient, world: World, api_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "READY_LAG_SECONDS", -1.0)
    api_ledger.projections.process_all()
    assert client.get("/ready").status_code == 200  # nothing pending, however strict
    api_ledger.stock.receive(Command("wms"), world.warehouse_id, world.sku_ids[0], 5, "A")
    ready = client.get("/ready")
    assert ready.status_code == 503
    lags = {lag["projection"]: lag["events_behind"] for lag in ready.json()["projections"]}
    assert lags["stock_availability"] == 2  # the position opened, and the receipt
    assert ready.json()["status"] == "lagging"


def test_readiness_ignores_a_commission_view_candidate_that_is_behind(
    client: TestClient, world: World, api_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "READY_LAG_SECONDS", -1.0)  # any pending event counts
    delivered_order(client, world)
    rebuilt = client.post(f"/brands/{world.brand_id}/commission-view/rebuilds", json={})
    assert rebuilt.status_code == 202, rebuilt.text
    api_ledger.commission_views.wait()
    delivered_order(client, world)  # commission the candidate has yet to fold
    [candidate] = api_ledger.commission_views.candidate_names()
    live = [name for name in api_ledger.projections.projections if name != candidate]
    while sum(api_ledger.projections.process(name) for name in live):
        pass  # a process manager's commands feed the views after it
    assert not api_ledger.projections.caught_up(candidate)

    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    serving = set(live) - {"webhook_orders", "webhook_statements"}
    assert {lag["projection"] for lag in ready.json()["projections"]} == serving

    api_ledger.stock.receive(Command("wms"), world.warehouse_id, world.sku_ids[0], 5, "A")
    lagging = client.get("/ready")
    assert lagging.status_code == 503
    assert lagging.json()["status"] == "lagging"


def test_metrics_count_requests_and_report_projection_lag(client: TestClient, world: World) -> None:
    client.get(f"/brands/{world.brand_id}")
    text = client.get("/metrics").text
    assert (
        'guideledger_requests_total{method="GET",route="/brands/{brand_id}",status="200"}' in text
    )
    assert "guideledger_projection_lag_events" in text
    assert "guideledger_lost_races_total" in text or "guideledger_request_seconds" in text


def _series(client: TestClient) -> set[str]:
    text = client.get("/metrics").text
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def test_made_up_methods_and_paths_add_no_metric_series(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    rng = random.Random(7)

    def made_up(length: int) -> str:
        return "".join(rng.choices(string.ascii_uppercase, k=length))

    for method, path in [("PROPFIND", "/"), ("FOO", "/health"), ("GET", "/x")]:
        client.request(method, path, headers=anonymous)
    before = _series(client)
    for _ in range(50):
        path = rng.choice(["/health", f"/{made_up(8).lower()}/{rng.randrange(10**9)}"])
        client.request(rng.choice(["PROPFIND", made_up(5)]), path, headers=anonymous)
        client.get(f"/nowhere/{made_up(12)}", headers=anonymous)
    assert _series(client) == before
    assert 'guideledger_requests_total{method="other",route="/health",status="405"}' in before
    assert 'guideledger_requests_total{method="other",route="unmatched",status="404"}' in before
    assert 'guideledger_requests_total{method="GET",route="unmatched",status="404"}' in before


def test_every_response_and_log_line_carries_the_request_id(
    client: TestClient, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get(f"/brands/{world.brand_id}", headers={"X-Request-ID": "req-42"})
    assert response.headers["X-Request-ID"] == "req-42"
    assert len(client.get("/health").headers["X-Request-ID"]) == 32
    configure_logging()
    token = REQUEST_ID.set("req-43")
    try:
        logging.getLogger("guideledger.test").info("placing an order")
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["level"]) == (
        "placing an order",
        "req-43",
        "INFO",
    )
