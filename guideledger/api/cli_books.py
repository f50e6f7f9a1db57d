"""Finance's and the scheduler's commands: audits, rebuilds, maturing, closing, exporting
statements and expiring unpaid orders; the `guideledger` command takes them in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from guideledger.api.demo import GROUP_CODE
from guideledger.api.routers.commissions import (
    PublishCommissionPolicy,
    statement_as_csv,
    statement_view,
)
from guideledger.cells.cells import open_cells
from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command
from guideledger.eventstore.recorder import events_after
from guideledger.kernel.errors import InvalidValue
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.group import Group
from guideledger.platform.settings import Settings

books = typer.Typer()
console = Console()


@contextmanager
def progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """`track(description, total)` adds a bar and returns its callback: events done so far,
    shown with the rate and the time left."""
    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:

        def track(description: str, total: int) -> Callable[[int], None]:
            task, started = bar.add_task(description, total=total, rate="-"), time.perf_counter()

            def advance(done: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-6)
                bar.update(task, completed=done, total=max(total, done), rate=f"{rate:,.0f}")

            return advance

        yield track


@contextmanager
def group_ledger(group: str) -> Iterator[Ledger]:
    """The ledger of the store holding the group (on its cell, with a cell directory)."""
    with open_cells(Settings()) as cells:
        yield cells.ledger_for(Group.create_id(group))


@contextmanager
def every_store() -> Iterator[list[Ledger]]:
    """The home store's ledger and those of every group's store on the cells."""
    with open_cells(Settings()) as cells:
        yield [ledger for _, ledger in cells.stores()]


@books.command("expire-unpaid")
def expire_unpaid(
    as_of: Annotated[
        datetime | None, typer.Option(help="Instant to expire as of (UTC); default now")
    ] = None,
) -> None:
    """Cancel every order whose payment window has closed, in every group's store."""
    with every_store() as ledgers:
        expired = [o for ledger in ledgers for o in ledger.orders.expire_unpaid_orders(_utc(as_of))]
        console.print(f"Cancelled {len(expired)} unpaid orders past their payment window.")


GroupCode = Annotated[str, typer.Option(help="The brand's group's code")]


def _brand_id(group: str, brand: str) -> UUID:
    return Brand.create_id(Group.create_id(group), brand)


@books.command()
def audit(
    brand: Annotated[str, typer.Option(help="The brand's code, e.g. GL-SPORT")],
    period: Annotated[str, typer.Option(help="2026-11 (monthly) or 2026-Q4 (quarterly)")],
    group: GroupCode = GROUP_CODE,
    payee: Annotated[str | None, typer.Option(help="Only this payee, level:id")] = None,
) -> None:
    """Replay every commission event from zero and compare the period's statements to the fen.
    Exits 1 if any statement differs."""
    with group_ledger(group) as ledger:
        total = events_after(ledger.commissions.recorder)
        with progress() as track:
            report = ledger.settlement_audit().run(
                _brand_id(group, brand), period, payee, track("replaying", total)
            )
        console.print(f"{len(report.matched)} statements match the replay to the fen.")
        if not report.clean:
            table = Table("payee", "period", "what", "stored fen", "replayed fen", "events")
            for m in report.mismatches:
                table.add_row(
                    m.payee,
                    m.period,
                    m.what,
                    str(m.stored_fen),
                    str(m.replayed_fen),
                    " ".join(m.event_ids),
                )
            console.print(table)
            raise typer.Exit(1)


@books.command()
def rebuild(
    brand: Annotated[str, typer.Option(help="The brand's code, e.g. GL-SPORT")],
    group: GroupCode = GROUP_CODE,
    proposal: Annotated[
        Path | None,
        typer.Option(
            help="Commission rules to preview, as JSON (a body of POST /brands/{id}/"
            "commission-policies); default: the rules as published",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Build the brand's candidate commission view from event zero beside the serving one and
    show what would change; promote or discard it with the API."""
    with group_ledger(group) as ledger:
        brand_id = _brand_id(group, brand)
        draft = None if proposal is None else _proposal(proposal, ledger)
        total = events_after(ledger.commissions.recorder)
        with progress() as track:
            candidate = ledger.commission_views.rebuild(brand_id, draft, track("rebuilding", total))
        table = Table("payee", "period", "old fen", "new fen", "difference", "orders", "booked in")
        for line in ledger.commission_views.diff(brand_id):
            table.add_row(
                line.payee,
                line.period,
                str(line.old_fen),
                str(line.new_fen),
                str(line.difference_fen),
                str(len(line.orders)),
                line.correction_period,
            )
        console.print(table)
        base = f"/brands/{brand_id}/commission-view"
        console.print(
            f"Candidate {candidate.built} of {brand} is built. "
            f"Promote: POST {base}/promote; discard: POST {base}/discard."
        )


def _proposal(path: Path, ledger: Ledger) -> CommissionPolicy:
    try:
        body = PublishCommissionPolicy.model_validate_json(path.read_bytes())
    except ValidationError as invalid:
        reason = invalid.errors()[0]["msg"]
        raise InvalidValue(f"{path} holds no commission rules: {reason}") from None
    return body.draft(ledger.clock.now())


AsOf = Annotated[
    datetime | None, typer.Option(help="Instant to act as of (UTC when no zone); default now")
]


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


@books.command("mature-commissions")
def mature_commissions(as_of: AsOf = None) -> None:
    """Move to settleable every commission whose return window has passed, in every group's
    store."""
    matured = 0
    with every_store() as ledgers:
        for ledger in ledgers:
            ledger.projections.process_all()
            matured += ledger.commissions.mature_due(_utc(as_of))
        console.print(f"Matured {matured} orders' commissions.")


@books.command("close-period")
def close_period(
    brand: Annotated[str, typer.Option(help="The brand's code, e.g. GL-SPORT")],
    period: Annotated[str, typer.Option(help="2026-11 (monthly) or 2026-Q4 (quarterly)")],
    group: GroupCode = GROUP_CODE,
    actor: Annotated[str, typer.Option(help="Who closes")] = "finance:cli",
) -> None:
    """Close a brand's settlement period: handbacks, bonuses, then every payee's statement."""
    with group_ledger(group) as ledger:
        ledger.projections.process_all()
        closed = ledger.commissions.close_period(Command(actor), _brand_id(group, brand), period)
        console.print(f"Closed {period} for {brand}: {len(closed)} statements.")


@books.command("export-statement")
def export_statement(
    payee: Annotated[str, typer.Option(help="level:id, e.g. guide:6f1c...")],
    period: Annotated[str, typer.Option(help="2026-11 or 2026-Q4")],
    output: Annotated[Path, typer.Option(help="Where to write the CSV")],
    group: GroupCode = GROUP_CODE,
) -> None:
    """Write one payee's statement for a period as CSV."""
    with group_ledger(group) as ledger:
        view = statement_view(ledger.commissions, payee, period)
        output.write_text(statement_as_csv(view), encoding="utf-8")
        console.print(f"Wrote {len(view.lines)} lines, total {view.total_fen} fen, to {output}.")
