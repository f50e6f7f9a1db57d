"""README's roles table says, for every operation in the OpenAPI spec, which roles may call
it; each operation is asked (with a token of a role it refuses, it names those it admits)."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

from fastapi.testclient import TestClient

from guideledger.api.auth import Role
from guideledger.composition import Ledger
from tests.api.conftest import bearer

README = Path(__file__).parents[2] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \| `(\w+) ([^`]+)` \| ([^|]+) \|$")
NO_TOKEN = "anyone, no token"
ANY_ROLE = "every role"
SIGNED = "the payment provider, signed"


def admitted(client: TestClient, ledger: Ledger, method: str, path: str) -> str:
    """The roles an operation admits, as it says when refusing a role it does not; one
    refusing none asks for a token, or not."""
    url = re.sub(r"\{[^}]+\}", lambda _m: str(uuid4()), path)
    for refused in (Role.PLATFORM_ADMIN, Role.ADMIN, Role.FRONTEND):
        headers = bearer(ledger, refused, "probe")
        response = client.request(method, url, json={}, headers=headers)
        if response.status_code == 403 and "allowed" in response.json():
            return ", ".join(response.json()["allowed"])
        if response.status_code == 401:
            return SIGNED
    unsigned = client.request(method, url, json={}, headers={"Authorization": "Bearer none"})
    return ANY_ROLE if unsigned.status_code == 401 else NO_TOKEN


def test_readme_lists_every_operation_with_the_roles_it_admits(
    client: TestClient, api_ledger: Ledger
) -> None:
    spec = client.get("/openapi.json").json()
    actual = {
        op["operationId"]: (method.upper(), path, admitted(client, api_ledger, method, path))
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    documented = {
        match[1]: (match[2], match[3], match[4].strip())
        for line in README.read_text(encoding="utf-8").splitlines()
        if (match := ROW.match(line))
    }
    assert documented == actual
