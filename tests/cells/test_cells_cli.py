"""The operators' cell commands and finance's commands on a group placed on a cell."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guideledger.api.cli import cli
from guideledger.cells.cells import Cells
from guideledger.platform.settings import Settings
from tests.cells.conftest import Servers, new_tenant
from tests.cells.test_two_cells import place_and_pay


@pytest.fixture
def environment(cell_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's settings: the test's home store and directory."""
    monkeypatch.setenv("GUIDELEDGER_DATABASE_URL", cell_settings.database_conninfo)
    monkeypatch.setenv("GUIDELEDGER_POSTGRES_SCHEMA", cell_settings.postgres_schema)
    monkeypatch.setenv("GUIDELEDGER_DIRECTORY_URL", str(cell_settings.directory_conninfo))


@pytest.mark.usefixtures("environment")
def test_cells_are_added_and_listed_with_their_groups(
    cell_app: TestClient, cells: Cells, servers: Servers
) -> None:
    new_tenant(cell_app, cells, "b")
    runner = CliRunner()
    added = runner.invoke(cli, ["cells", "add", "c", "--primary", servers.a.url])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["cells", "list"])
    assert listed.exit_code == 0, listed.output
    cells_listed = [line.split("│")[1:4] for line in listed.output.splitlines() if "│" in line]
    rows = {cell.strip(): groups.strip() for cell, _replicas, groups in cells_listed}
    assert rows == {"a": "0", "b": "1", "c": "0"}
    assert "postgresql://" not in listed.output  # URLs may hold passwords


@pytest.mark.usefixtures("environment")
def test_finance_commands_reach_a_group_on_its_cell(cell_app: TestClient, cells: Cells) -> None:
    tenant = new_tenant(cell_app, cells, "a")
    place_and_pay(cell_app, cells, tenant)
    tenant.ledger.projections.process_all()  # as a worker would: the sale's commission accrues
    runner = CliRunner()
    expired = runner.invoke(cli, ["expire-unpaid"])
    assert expired.exit_code == 0, expired.output
    rebuilt = runner.invoke(cli, ["rebuild", "--brand", "ACME", "--group", tenant.code])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Candidate" in rebuilt.output
    unknown = runner.invoke(cli, ["rebuild", "--brand", "ACME", "--group", "NOT-PLACED"])
    assert unknown.exit_code == 1  # the home store knows no such brand
