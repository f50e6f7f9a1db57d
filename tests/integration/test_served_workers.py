"""`guideledger serve --workers 2` on real PostgreSQL: two server processes answer as one
service (what one writes, the other reads; a retried command is recognised by either)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from guideledger.api.auth import Caller, Role, issue_token
from guideledger.platform.settings import Persistence, Settings
from tests.ports import free_port
from tests.world import GROUP_ID


@pytest.fixture
def two_workers(postgres_url: str, postgres_schema: str) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    environment = {
        **os.environ,
        "GUIDELEDGER_DATABASE_URL": postgres_url,
        "GUIDELEDGER_POSTGRES_SCHEMA": postgres_schema,
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "guideledger.api.cli"),
            *("serve", "--workers", "2", "--port", str(port)),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(postgres_url),
        postgres_schema=postgres_schema,
    )
    headers = {
        "Authorization": f"Bearer {issue_token(settings, Caller('ops', Role.ADMIN, GROUP_ID))}"
    }
    platform = {
        "Authorization": f"Bearer {issue_token(settings, Caller('ops', Role.PLATFORM_ADMIN))}"
    }
    try:
        for _attempt in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                with pytest.raises(subprocess.TimeoutExpired):  # still starting, not dead
                    server.wait(timeout=0.1)
        group = httpx.post(
            f"{url}/groups", json={"code": "ACME-GROUP", "name": "Acme"}, headers=platform
        )
        assert group.status_code == 201, group.text
        yield url, headers
    finally:
        server.terminate()
        server.wait(30)


def test_two_server_processes_answer_as_one_service(
    two_workers: tuple[str, dict[str, str]],
) -> None:
    url, headers = two_workers
    body = {
        "code": "GL-TWO",
        "name": "Two workers",
        "time_zone": "Asia/Shanghai",
        "settlement_cadence": "monthly",
    }
    keyed = {**headers, "Idempotency-Key": "register-gl-two"}
    answers = []
    for _ in range(6):  # a new connection each time: the workers take turns accepting
        with httpx.Client(base_url=url, headers=keyed) as client:
            answers.append(client.post("/brands", json=body))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    brand_id = answers[0].json()["id"]
    for _ in range(6):
        with httpx.Client(base_url=url, headers=headers) as client:
            brand = client.get(f"/brands/{brand_id}")
        assert brand.status_code == 200
        assert (brand.json()["code"], brand.json()["version"]) == ("GL-TWO", 1)
