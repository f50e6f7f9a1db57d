"""The two things a new user does first: load the demo, then talk to the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import cli
from api.demo import BRAND_CODE
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Persistence, Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUIDELEDGER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GUIDELEDGER_DATABASE_URL", raising=False)
    return tmp_path / "var"


def test_demo_loads_once_into_sqlite_and_the_api_serves_it(data_dir: Path) -> None:
    runner = CliRunner()
    loaded = runner.invoke(cli, ["demo", "--no-serve", "--orders", "60"])
    assert loaded.exit_code == 0, loaded.output
    assert "Loaded the demo" in loaded.output
    assert (data_dir / "orders.sqlite3").exists()
    again = runner.invoke(cli, ["demo", "--no-serve", "--orders", "60"])
    assert "already loaded" in again.output

    ledger = bootstrap(Settings(persistence=Persistence.SQLITE, data_dir=data_dir))
    with TestClient(create_app(ledger)) as client:
        brand = client.get(f"/brands/by-code/{BRAND_CODE}").json()
        assert brand["time_zone"] == "Asia/Shanghai"
        warehouse = client.get(f"/brands/{brand['id']}/nodes/by-code/WH-GZ").json()
        assert warehouse["kind"] == "warehouse"
        assert ledger.orders.recorder.max_notification_id() >= 60
    ledger.close()


def test_expire_unpaid_command_cancels_past_due_orders(data_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["demo", "--no-serve", "--orders", "60"])
    first = runner.invoke(cli, ["expire-unpaid", "--as-of", "2100-01-01T00:00:00"])
    assert first.exit_code == 0, first.output
    assert "Cancelled" in first.output
    second = runner.invoke(cli, ["expire-unpaid", "--as-of", "2100-01-01T00:00:00"])
    assert "Cancelled 0 unpaid orders" in second.output
