"""The two things a new user does first: load the demo, then talk to the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guideledger.api.app import create_app
from guideledger.api.auth import Caller, Role, issue_token, read_token
from guideledger.api.cli import cli
from guideledger.api.demo import BRAND_CODE, GROUP_ID
from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.views import SETTLEMENT_PERIODS
from guideledger.platform.settings import Persistence, Settings


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
    assert "Bearer tokens for the demo" in loaded.output
    assert (data_dir / "orders.sqlite3").exists()
    again = runner.invoke(cli, ["demo", "--no-serve", "--orders", "60"])
    assert "already loaded" in again.output

    ledger = bootstrap(Settings(persistence=Persistence.SQLITE, data_dir=data_dir))
    admin = {
        "Authorization": f"Bearer {issue_token(ledger.settings, Caller('t', Role.ADMIN, GROUP_ID))}"
    }
    with TestClient(create_app(ledger), headers=admin) as client:
        brand = client.get(f"/brands/by-code/{BRAND_CODE}").json()
        assert brand["time_zone"] == "Asia/Shanghai"
        warehouse = client.get(f"/brands/{brand['id']}/nodes/by-code/WH-GZ").json()
        assert warehouse["kind"] == "warehouse"
        assert ledger.orders.recorder.max_notification_id() >= 60
    ledger.close()


def test_expire_unpaid_command_cancels_past_due_orders(data_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["demo", "--no-serve", "--orders", "60"])
    first = runner.invoke(cli, ["expire-unpaid"])  # the demo's unpaid orders are weeks old
    assert first.exit_code == 0, first.output
    assert "Cancelled" in first.output
    second = runner.invoke(cli, ["expire-unpaid"])
    assert "Cancelled 0 unpaid orders" in second.output
    ahead = runner.invoke(cli, ["expire-unpaid", "--as-of", "2100-01-01T00:00:00"])
    assert ahead.exit_code == 1
    assert "refused: as_of cannot be in the future" in ahead.output


def test_ledger_commands_mature_close_and_export(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    # 45 days always reach into last month, whatever today's date.
    runner.invoke(cli, ["demo", "--no-serve", "--orders", "80", "--days", "45"])
    matured = runner.invoke(cli, ["mature-commissions"])
    assert matured.exit_code == 0, matured.output
    assert "Matured" in matured.output

    ledger = bootstrap(Settings(persistence=Persistence.SQLITE, data_dir=data_dir))
    rows = ledger.projections.select(SETTLEMENT_PERIODS, {"closed": True})
    ledger.close()
    assert rows, "the demo closes every period that has ended"
    payee, period = rows[0]["payee"], rows[0]["period"]
    output = tmp_path / "statement.csv"
    exported = runner.invoke(
        cli, ["export-statement", "--payee", payee, "--period", period, "--output", str(output)]
    )
    assert exported.exit_code == 0, exported.output
    assert output.read_text(encoding="utf-8").splitlines()[-1].split(",")[2] == "total"
    again = runner.invoke(cli, ["close-period", "--brand", BRAND_CODE, "--period", period])
    assert again.exit_code == 1
    assert "refused:" in again.output
    assert "already closed" in again.output


def test_token_command_issues_a_token_the_service_accepts(data_dir: Path) -> None:
    issued = CliRunner().invoke(cli, ["token", "--role", "finance", "--subject", "chen"])
    assert issued.exit_code == 0, issued.output
    caller = read_token(Settings(), issued.output.strip())
    assert (caller.role, caller.actor) == (Role.FINANCE, "finance:chen")


def test_projections_command_reports_lag_and_catches_up(data_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["demo", "--no-serve", "--orders", "30"])
    ledger = bootstrap(Settings(persistence=Persistence.SQLITE, data_dir=data_dir))
    ledger.orders.expire_unpaid_orders()  # new events the read models have not seen
    ledger.close()
    caught_up = runner.invoke(cli, ["projections", "--catch-up"])
    assert caught_up.exit_code == 0, caught_up.output
    assert "unpaid_orders" in caught_up.output
    report = runner.invoke(cli, ["projections"])
    [line] = [line for line in report.output.splitlines() if "sales_by_day" in line]
    cells = [cell.strip() for cell in line.strip("│ ").split("│")]
    assert cells == ["sales_by_day", "0", "0.0"]


def test_audit_and_rebuild_commands_report_with_progress(data_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["demo", "--no-serve", "--orders", "80", "--days", "45"])
    ledger = bootstrap(Settings(persistence=Persistence.SQLITE, data_dir=data_dir))
    ledger.projections.process_all()
    [period, *_] = {
        row["period"] for row in ledger.projections.select(SETTLEMENT_PERIODS, {"closed": True})
    }
    ledger.close()

    audited = runner.invoke(cli, ["audit", "--brand", BRAND_CODE, "--period", period])
    assert audited.exit_code == 0, audited.output
    assert "statements match the replay to the fen" in audited.output
    assert "events/s" in audited.output

    proposal = data_dir / "proposal.json"
    rates = [{"level": "guide", "rate_bp": 500}]
    proposal.write_text(json.dumps({"rates": rates, "effective_from": f"{period}-02T00:00:00Z"}))
    refused = runner.invoke(cli, ["rebuild", "--brand", BRAND_CODE, "--proposal", str(proposal)])
    assert refused.exit_code == 1
    assert f"would reach {period}, which is closed" in " ".join(refused.output.split())

    rebuilt = runner.invoke(cli, ["rebuild", "--brand", BRAND_CODE])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"Candidate 1 of {BRAND_CODE} is built" in rebuilt.output
    assert "difference" in rebuilt.output  # the diff's table, empty under the same rules


def test_a_command_that_cannot_reach_the_database_prints_no_password(tmp_path: Path) -> None:
    password = "Pw7Rk2Xq9Lm4Tz"
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")},
        "GUIDELEDGER_DATABASE_URL": f"postgresql://ledger:{password}@127.0.0.1:1/ledger",
        "COLUMNS": "200",
    }
    failed = subprocess.run(
        [sys.executable, "-m", "guideledger.api.cli", "projections"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode != 0
    assert "Connection refused" in failed.stderr  # the traceback, as the operator sees it
    printed = failed.stdout + failed.stderr
    assert not [
        password[i : i + 6] for i in range(len(password) - 5) if password[i : i + 6] in printed
    ]


def test_on_the_sandbox_clock_the_demo_walks_whole_months_from_the_clocks_start(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUIDELEDGER_CLOCK", "manual")
    monkeypatch.setenv("GUIDELEDGER_CLOCK_START", "2026-01-01T00:00:00Z")
    runner = CliRunner()
    loaded = runner.invoke(cli, ["demo", "--no-serve", "--orders", "40", "--days", "62"])
    assert loaded.exit_code == 0, loaded.output
    assert "closed periods 2026-01, 2026-02." in " ".join(loaded.output.split())

    settings = Settings(persistence=Persistence.SQLITE, data_dir=data_dir)
    with bootstrap(settings) as ledger:
        assert ledger.clock.now() == datetime(2026, 3, 4, tzinfo=UTC)  # left at the walk's end
        ledger.projections.process_all()
        closed = ledger.projections.select(SETTLEMENT_PERIODS, {"closed": True})
    assert {row["period"] for row in closed} == {"2026-01", "2026-02"}
    expired = runner.invoke(cli, ["expire-unpaid"])
    assert "Cancelled" in expired.output
    ahead = runner.invoke(cli, ["expire-unpaid", "--as-of", "2026-03-05T00:00:00"])
    assert "refused: as_of cannot be in the future" in ahead.output
