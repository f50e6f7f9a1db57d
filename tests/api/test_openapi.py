"""The OpenAPI spec is complete enough for a generic client to drive every endpoint."""

from fastapi.testclient import TestClient


def test_every_operation_has_an_id_a_tag_and_documented_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) > 30
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    for op in operations:
        assert op.get("tags"), op["operationId"]
        if op["operationId"] not in PUBLIC:
            problem = op["responses"]["422"]["content"]
            assert "application/problem+json" in problem, op["operationId"]


# Writes that are not commands: a query sent by POST, and naturally idempotent sweeps.
# Operations, and a brand's candidate commission view guarded by compare-and-set (a repeat
# is refused; it writes no event). The sandbox clock moved again to where it is stays there.
NOT_COMMANDS = {
    "moveSandboxClock",
    "dryRunRouting",
    "rerouteWaitingOrders",
    "expireUnpaidOrders",
    "matureCommissions",
    "rebuildCommissionView",
    "discardCommissionView",
    # Webhooks are configuration beside the ledger, not events: a repeated replay queues the
    # same deliveries again; a repeated registration makes another endpoint, removed by id.
    "registerWebhook",
    "replayWebhook",
    # A move switches the directory by compare-and-set: a repeat is refused (it is there).
    "moveGroup",
}


def test_commands_document_the_idempotency_key_and_the_bearer_token(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for methods in spec["paths"].values():
        for method, op in methods.items():
            if method in {"post", "put"} and op["operationId"] not in NOT_COMMANDS | SIGNED:
                headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
                assert "Idempotency-Key" in headers, op["operationId"]
                assert op.get("security") == [{"HTTPBearer": []}], op["operationId"]


PUBLIC = {"health", "ready", "metrics"}  # for load balancers and Prometheus
# Signed by the payment provider instead, and idempotent by its transaction id.
SIGNED = {"notifyPayment"}


def test_every_operation_but_health_metrics_and_signed_ones_requires_a_bearer_token(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    unguarded = {
        op["operationId"]
        for methods in spec["paths"].values()
        for op in methods.values()
        if op.get("security") != [{"HTTPBearer": []}]
    }
    assert unguarded == PUBLIC | SIGNED


def test_signed_operations_document_the_signature_headers_and_the_body(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    signed = [
        op
        for methods in spec["paths"].values()
        for op in methods.values()
        if op["operationId"] in SIGNED
    ]
    assert [op["operationId"] for op in signed] == sorted(SIGNED)
    for op in signed:
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert headers == {"Payment-Timestamp", "Payment-Nonce", "Payment-Signature"}
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["required"]) == {"transaction_id", "order_id", "amount_fen", "paid_at"}
