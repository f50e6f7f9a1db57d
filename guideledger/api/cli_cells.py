"""The operators' commands for cells: add a cell (a PostgreSQL primary and its replicas)
to the directory and list where the groups are; the `guideledger` command takes them in
as `guideledger cells ...`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from guideledger.api.cli_books import console
from guideledger.cells.directory import Directory
from guideledger.platform.settings import Settings

cells = typer.Typer(help="The cell directory: which PostgreSQL server holds each group")


@contextmanager
def directory() -> Iterator[Directory]:
    url = Settings().directory_conninfo
    if url is None:
        raise typer.BadParameter("no cell directory: set GUIDELEDGER_DIRECTORY_URL")
    opened = Directory(url)
    try:
        yield opened
    finally:
        opened.close()


@cells.command("add")
def add_cell(
    cell_id: Annotated[str, typer.Argument(help="The cell's name, e.g. cell-1")],
    primary: Annotated[str, typer.Option(help="postgresql://... of the cell's primary")],
    replica: Annotated[
        list[str] | None,
        typer.Option(help="postgresql://... of a streaming replica (repeat for more)"),
    ] = None,
) -> None:
    """Add a cell to the directory (or change its servers' URLs)."""
    with directory() as found:
        found.add_cell(cell_id, primary, replica or ())
    console.print(f"cell {cell_id} added with {len(replica or [])} replicas")


@cells.command("list")
def list_cells() -> None:
    """The cells and how many groups each holds."""
    with directory() as found:
        placed = found.placements()
        table = Table("cell", "replicas", "groups")
        for cell in found.cells():
            held = sum(1 for placement in placed if placement.cell_id == cell.cell_id)
            table.add_row(cell.cell_id, str(len(cell.replica_urls)), str(held))
    console.print(table)
