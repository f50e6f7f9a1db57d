"""The ledger over HTTP: rules, close, statements and their CSV, payout, trial balance."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from guideledger.platform.clock import ManualClock
from tests.api.conftest import bearer, pay, platform
from tests.api.test_orders_api import TOTAL, assert_refused, delivered_order, order_body
from tests.world import World, event_count


def settled_november(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> str:
    """One delivered order, matured and closed into November's statements; the guide's path."""
    client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={"rates": [{"level": "guide", "rate_bp": 300}], "top_guide_bonus_fen": 0},
    )
    delivered_order(client, world)
    api_ledger.projections.process_all()
    clock.advance(timedelta(days=8))
    assert client.post(
        "/operations/mature-commissions", json={}, headers=platform(api_ledger)
    ).json() == {"matured": 1}
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    closed = client.post(f"/brands/{world.brand_id}/periods/2026-11/close")
    assert closed.status_code == 200, closed.text
    return f"/payees/guide/{world.guide_id}"


def test_rules_are_published_and_listed(client: TestClient, world: World) -> None:
    response = client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={"rates": [{"level": "guide", "rate_bp": 400, "category": "footwear"}]},
    )
    assert response.status_code == 201, response.text
    [policy] = client.get(f"/brands/{world.brand_id}/commission-policies").json()
    assert policy["rates"] == [
        {"level": "guide", "rate_bp": 400, "category": "footwear", "channel": "*"}
    ]
    refused = client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={"rates": [{"level": "guide", "rate_bp": 9_000}]},
    )
    assert_refused(refused, 422, "validation-error")


def test_close_statement_csv_payout_and_trial_balance(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    guide = settled_november(client, world, api_ledger, clock)
    statements = client.get(f"{guide}/statements").json()
    assert [(s["period"], s["closed"], s["total_fen"]) for s in statements] == [
        ("2026-11", True, 951)
    ]
    statement = client.get(f"{guide}/statements/2026-11").json()
    assert statement["lines"][0]["kind"] == "maturity"
    paid_event, delivered_event = statement["lines"][0]["source_events"]
    assert paid_event.endswith(":4")  # placed, attributed, allocated, paid
    assert delivered_event.endswith(":6")  # shipped, delivered
    rows = list(csv.reader(io.StringIO(client.get(f"{guide}/statements/2026-11/csv").text)))
    assert rows[0][:4] == ["payee", "period", "kind", "amount_fen"]
    assert rows[-1][2:4] == ["total", "951"]

    before = event_count(api_ledger)
    wrong = client.post(
        f"{guide}/statements/2026-11/payout", json={"amount_fen": 950, "reference": "B-1"}
    )
    assert_refused(wrong, 422, "ledger-rule-violated")
    assert event_count(api_ledger) == before
    paid = client.post(
        f"{guide}/statements/2026-11/payout", json={"amount_fen": 951, "reference": "B-1"}
    )
    assert paid.status_code == 200, paid.text
    assert client.get(f"{guide}/balances").json() == {
        "pending": 0,
        "settleable": 0,
        "payable": 0,
        "paid": 951,
    }
    assert client.get(f"/brands/{world.brand_id}/trial-balance").json()["total_fen"] == 0


def test_a_period_closes_once_and_only_after_it_ended(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    assert_refused(
        client.post(f"/brands/{world.brand_id}/periods/2026-11/close"), 422, "rule-violated"
    )
    settled_november(client, world, api_ledger, clock)
    again = client.post(f"/brands/{world.brand_id}/periods/2026-11/close")
    assert_refused(again, 422, "rule-violated")
    assert_refused(
        client.post(f"/brands/{world.brand_id}/periods/2026-13/close"), 422, "validation-error"
    )


def test_a_guide_who_leaves_gets_a_final_statement(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    delivered_order(client, world)
    api_ledger.projections.process_all()
    clock.advance(timedelta(days=8))
    client.post("/operations/mature-commissions", json={}, headers=platform(api_ledger))
    client.post(f"/guides/{world.guide_id}/leave", json={"reason": "moved away"})
    api_ledger.projections.process_all()
    statement = client.get(f"/payees/guide/{world.guide_id}/statements/2026-11").json()
    assert (statement["closed"], statement["final"], statement["total_fen"]) == (True, True, 951)


def test_an_orders_timeline_spans_order_stock_and_commission(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    order_id = client.post("/orders", json=order_body(world)).json()["id"]
    clock.advance(timedelta(minutes=10))
    assert pay(client, order_id, TOTAL).status_code == 200
    api_ledger.projections.process_all()
    for step in (
        (
            "shipments",
            {
                "shipment_id": "p1",
                "node_id": str(world.store_id),
                "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
            },
        ),
        ("shipments/p1/delivery", {}),
    ):
        clock.advance(timedelta(minutes=10))
        assert client.post(f"/orders/{order_id}/{step[0]}", json=step[1]).status_code == 200
        api_ledger.projections.process_all()
    clock.advance(timedelta(days=8))
    client.post("/operations/mature-commissions", json={}, headers=platform(api_ledger))
    timeline = client.get(f"/orders/{order_id}/timeline").json()
    story = [(entry["source"], entry["event"]) for entry in timeline]
    assert story == [
        ("order", "Placed"),
        ("order", "Attributed"),
        ("stock", "Reserved"),  # reserved while routing, in the allocation's transaction
        ("stock", "Reserved"),
        ("order", "Allocated"),
        ("order", "Paid"),
        ("commission", "Accrued"),
        ("order", "Shipped"),
        ("stock", "Committed"),
        ("stock", "Committed"),
        ("order", "Delivered"),
        ("commission", "DeliveryRecorded"),
        ("commission", "Matured"),
    ]


def test_finance_audits_a_period_by_replay(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    guide = settled_november(client, world, api_ledger, clock)
    guide_key = guide.removeprefix("/payees/").replace("/", ":")
    audit = f"/brands/{world.brand_id}/periods/2026-11/audit"
    finance = bearer(api_ledger, Role.FINANCE)
    report = client.get(audit, params={"payee": guide_key}, headers=finance).json()
    assert report["clean"] is True
    assert report["matched"] == [guide_key]
    assert report["mismatches"] == []
    assert report["events_replayed"] > 0
    manager = bearer(api_ledger, Role.STORE_MANAGER, store_id=world.store_id)
    assert_refused(client.get(audit, headers=manager), 403, "forbidden")
    assert_refused(
        client.get(audit, params={"payee": "nobody"}, headers=finance), 422, "validation-error"
    )


def test_a_store_accounts_statement_shows_the_share_it_held_and_handed_back(
    client: TestClient, world: World, api_ledger: Ledger, clock: ManualClock
) -> None:
    """A guide named on a store-account order: the store holds their 3% until the close, its
    statement shows it held and handed back, the guide's shows it received; both name the
    order, the rule version and the same held line."""
    rates = [{"level": "guide", "rate_bp": 300}, {"level": "store", "rate_bp": 100}]
    client.post(
        f"/brands/{world.brand_id}/commission-policies",
        json={"rates": rates, "top_guide_bonus_fen": 0},
    )
    note = {"channel": "store_account", "store_id": str(world.store_id), "guide_note": "Wang Fang"}
    order_id = client.post("/orders", json=order_body(world, evidence=note)).json()["id"]
    pay(client, order_id, TOTAL)
    parcel = [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]
    shipment = {"shipment_id": "s1", "node_id": str(world.store_id), "lines": parcel}
    assert client.post(f"/orders/{order_id}/shipments", json=shipment).status_code == 200
    assert client.post(f"/orders/{order_id}/shipments/s1/delivery", json={}).status_code == 200
    api_ledger.projections.process_all()
    clock.advance(timedelta(days=8))
    client.post("/operations/mature-commissions", json={}, headers=platform(api_ledger))
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    assert client.post(f"/brands/{world.brand_id}/periods/2026-11/close").status_code == 200

    store = client.get(f"/payees/store/{world.store_id}/statements/2026-11").json()
    assert [(x["kind"], x["amount_fen"], x["held_for"]) for x in store["lines"]] == [
        ("maturity", 317, None),
        ("maturity", 951, str(world.guide_id)),
        ("handback", -951, str(world.guide_id)),
    ]
    assert store["total_fen"] == 317  # the guide's share was never the store's
    _own, held, handed = store["lines"]
    guide = client.get(f"/payees/guide/{world.guide_id}/statements/2026-11").json()
    [received] = guide["lines"]
    assert (received["kind"], received["amount_fen"], guide["total_fen"]) == ("handback", 951, 951)
    for line in (held, handed, received):
        assert (line["order_id"], line["rule_version"]) == (order_id, 1)
    paid_and_delivered = [event.split(":")[0] for event in held["source_events"]]
    assert paid_and_delivered == [order_id, order_id]
    assert received["posting_id"] == handed["posting_id"]
    assert received["source_events"] == handed["source_events"]  # the held line's event
    [held_event] = received["source_events"]
    assert held_event.endswith(":3")  # the store's statement: opened, its own line, held
    csv_rows = list(
        csv.reader(
            io.StringIO(client.get(f"/payees/store/{world.store_id}/statements/2026-11/csv").text)
        )
    )
    assert csv_rows[0][-1] == "held_for"
    assert [row[-1] for row in csv_rows[1:]] == ["", str(world.guide_id), str(world.guide_id), ""]

    assert client.get(f"/brands/{world.brand_id}/trial-balance").json()["total_fen"] == 0
    finance = bearer(api_ledger, Role.FINANCE)
    audit = client.get(f"/brands/{world.brand_id}/periods/2026-11/audit", headers=finance).json()
    assert audit["clean"] is True
    assert {f"store:{world.store_id}", f"guide:{world.guide_id}"} <= set(audit["matched"])
