"""The operators' commands for cells: add a cell (a PostgreSQL primary and its replicas)
to the directory, list where the groups are, move a group to another cell and drop the
store it left; the `guideledger` command takes them in as `guideledger cells ...`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from guideledger.api.cli_books import console
from guideledger.cells.cells import open_cells
from guideledger.cells.directory import Directory
from guideledger.cells.moving import drop_former_store, move_group
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


@cells.command("move")
def move(
    group_id: Annotated[UUID, typer.Argument(help="The group to move")],
    to: Annotated[str, typer.Option("--to", help="The cell to move it to")],
) -> None:
    """Move a group's store to another cell while the service runs: its events and read
    models are copied, caught up and verified during a short pause of the group's writes;
    the store it leaves stays until dropped (drop-former)."""
    settings = Settings()
    if settings.directory_conninfo is None:
        raise typer.BadParameter("no cell directory: set GUIDELEDGER_DIRECTORY_URL")
    with open_cells(settings) as opened:
        moved = move_group(opened, group_id, to, progress=console.print)
    table = Table("table", "rows (both cells)", "digest")
    for name, tally in moved.tables.items():
        table.add_row(name, str(tally.rows), tally.digest)
    console.print(table)
    console.print(f"verified: digest {moved.digest}; writes paused {moved.paused_seconds:.2f} s")
    former, schema = moved.former_cell_id, moved.placement.schema
    console.print(
        f"the former store {schema} stays on cell {former}: "
        f"guideledger cells drop-former {former} {schema} drops it"
    )


@cells.command("former")
def former_stores() -> None:
    """The stores moved groups left behind, kept until dropped."""
    with directory() as found:
        table = Table("cell", "schema", "group", "left at")
        for store in found.former_stores():
            table.add_row(store.cell_id, store.schema, str(store.group_id), str(store.left_at))
    console.print(table)


@cells.command("drop-former")
def drop_former(
    cell_id: Annotated[str, typer.Argument(help="The cell holding the store")],
    schema: Annotated[str, typer.Argument(help="The store's schema, group_...")],
) -> None:
    """Drop a store no group is placed in any more (a moved group's former store)."""
    with directory() as found:
        drop_former_store(found, cell_id, schema)
    console.print(f"dropped {schema} from cell {cell_id}")
