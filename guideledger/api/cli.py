"""The `guideledger` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import typer
import uvicorn
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.cli_books import books, console, progress
from guideledger.api.cli_cells import cells
from guideledger.api.demo import (
    BRAND_ID,
    GROUP_CODE,
    GROUP_ID,
    demo_is_loaded,
    demo_start,
    load_demo,
    settle_demo,
)
from guideledger.bootstrap import bootstrap
from guideledger.cells.cells import open_cells
from guideledger.cells.workers import work
from guideledger.composition import Ledger
from guideledger.kernel.errors import DomainError
from guideledger.kernel.values import natural_id
from guideledger.organisation.domain.group import Group
from guideledger.organisation.domain.units import Node
from guideledger.platform.clock import ManualClock
from guideledger.platform.observability import configure_logging
from guideledger.platform.sandbox_clock import SandboxClock
from guideledger.platform.settings import ClockMode, Persistence, Settings, refusals


class RefusalsAsErrors(TyperGroup):
    """A command the ledger refuses ends with its reason and exit code 1, and settings
    the environment gets wrong with their reasons (never their values) and exit code 2,
    not a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as refused:
            details = "".join(f"; {k}={v}" for k, v in refused.extensions.items())
            console.print(f"refused: {refused.detail}{details}", style="red", highlight=False)
            raise typer.Exit(1) from None
        except ValidationError as invalid:
            if invalid.title != Settings.__name__:
                raise
            for reason in refusals(invalid):
                console.print(f"invalid setting: {reason}", style="red", highlight=False)
            raise typer.Exit(2) from None


cli = typer.Typer(
    help="GuideLedger: orders and commissions for guide-led retail.",
    cls=RefusalsAsErrors,
    pretty_exceptions_show_locals=False,  # a traceback's locals may hold the database URL
)

Host = Annotated[str | None, typer.Option(help="Address to listen on (default from settings)")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default from settings)")]


Workers = Annotated[
    int | None,
    typer.Option(
        min=1, max=64, help="Server processes (default: one per core on PostgreSQL, else one)"
    ),
]
WORKER_POOL_SIZE = 2
StartWorker = Annotated[
    bool,
    typer.Option(
        "--worker/--no-worker",
        help="On PostgreSQL, run `guideledger worker` beside the servers and stop it with "
        "them (--no-worker when workers run elsewhere)",
    ),
]


@cli.command()
def serve(
    host: Host = None, port: Port = None, workers: Workers = None, worker: StartWorker = True
) -> None:
    """Serve the HTTP API on the configured store."""
    _serve(Settings(), host, port, workers, worker)


@cli.command("worker")
def run_worker(
    cell: Annotated[
        list[str] | None,
        typer.Option(
            help="Serve only the stores on this cell (repeat for more; `home` for the home "
            "store); default: every cell and the home store"
        ),
    ] = None,
    parent: Annotated[
        int | None,
        typer.Option(
            help="Stop once the process with this id is no longer the parent", hidden=True
        ),
    ] = None,
) -> None:
    """Keep the read models, process managers and event feed current, and deliver the
    webhooks, until stopped (SIGTERM, Ctrl-C): for the home store and, with a cell
    directory, for every group's store on every cell (or on the cells named).

    Of several workers, on any machines, one leads each store at a time; another takes
    over when it goes. A worker killed mid-batch loses nothing: positions move with the
    rows."""
    configure_logging()
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    if parent is not None:
        _stop_without(parent, stopping)
    settings = Settings()
    # One thread per store does the work: a few connections each, not a server's pool.
    pool_size = min(settings.postgres_pool_size, WORKER_POOL_SIZE)
    small = {"postgres_pool_size": pool_size, "cell_pool_size": pool_size}
    with open_cells(settings.model_copy(update=small)) as cells:
        work(cells, stopping, cell)


def _stop_without(parent: int, stopping: threading.Event) -> None:
    """Sets `stopping` once `parent` is no longer this process's parent (a killed `serve`
    leaves no worker behind, even one killed while this process was still starting)."""

    def watch() -> None:
        while os.getppid() == parent:
            if stopping.wait(1.0):
                return
        stopping.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@cli.command()
def demo(
    host: Host = None,
    port: Port = None,
    orders: Annotated[int, typer.Option(min=0, help="How many demo orders to place")] = 2500,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            max=365,
            help="Days of history: ending now, or on the sandbox clock from its instant on",
        ),
    ] = 75,  # at least two whole months, closed, whatever the day
    serve: Annotated[bool, typer.Option(help="Serve the API once loaded")] = True,
) -> None:
    """Load the demo data set (once) into the configured store, then serve it.

    On the sandbox clock (GUIDELEDGER_CLOCK=manual) the history starts at the clock's
    instant and walks `days` forward; the clock is left at the walk's end."""
    settings = Settings()
    with _demo_ledger(settings, days) as (ledger, set_clock):
        if demo_is_loaded(ledger):
            console.print("Demo data is already loaded.")
        else:
            start, span = ledger.clock.now(), timedelta(days=days)
            with Progress(
                *Progress.get_default_columns()[:1],
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("Placing demo orders", total=orders)
                load_demo(
                    ledger,
                    set_clock,
                    orders=orders,
                    span=span,
                    progress=lambda done: bar.update(task, completed=done),
                )
            set_clock(start + span)
            closed = settle_demo(ledger, start)
            console.print(
                f"Loaded the demo: {orders} orders into {settings.data_dir}/; "
                f"closed periods {', '.join(closed) or 'none'}."
            )
        _print_demo_tokens(settings, ledger)
    if serve:
        _serve(settings, host, port)


@contextmanager
def _demo_ledger(
    settings: Settings, days: int
) -> Iterator[tuple[Ledger, Callable[[datetime], object]]]:
    """The ledger the demo loads into, and how the demo moves its clock: the sandbox
    clock, or on the wall clock one of the demo's own from `days` ago."""
    if settings.clock is ClockMode.MANUAL:
        with bootstrap(settings) as ledger:
            assert isinstance(ledger.clock, SandboxClock)
            yield ledger, ledger.clock.move_to
        return
    clock = ManualClock(demo_start(datetime.now(UTC), days))
    with bootstrap(settings, clock) as ledger:
        yield ledger, clock.set


@cli.command()
def token(
    role: Annotated[Role, typer.Option(help="The caller's role")],
    subject: Annotated[str, typer.Option(help="Who the caller is")] = "someone",
    group: Annotated[str, typer.Option(help="The group's code (not for platform_admin)")] = (
        GROUP_CODE
    ),
    brand_id: Annotated[str | None, typer.Option(help="Narrow to one brand")] = None,
    guide_id: Annotated[str | None, typer.Option(help="For a guide: their id")] = None,
    store_id: Annotated[str | None, typer.Option(help="For a store manager: their store")] = None,
) -> None:
    """Print a bearer token for a role (signed with GUIDELEDGER_JWT_SECRET)."""
    try:
        caller = Caller(
            subject,
            role,
            group_id=None if role is Role.PLATFORM_ADMIN else Group.create_id(group),
            brand_id=UUID(brand_id) if brand_id else None,
            guide_id=UUID(guide_id) if guide_id else None,
            store_id=UUID(store_id) if store_id else None,
        )
    except ValueError as refused:
        raise typer.BadParameter(str(refused)) from None
    typer.echo(issue_token(Settings(), caller))


def _print_demo_tokens(settings: Settings, ledger: Ledger) -> None:
    brand_id = BRAND_ID
    store = ledger.organisation.load(Node, natural_id("node", brand_id, "S-SHANGHAI-01"))
    guide_id = natural_id("guide", brand_id, "G-SHANGHAI-01-01")
    callers = [
        Caller("admin", Role.ADMIN, GROUP_ID),
        Caller("mall", Role.FRONTEND, GROUP_ID),
        Caller("chen", Role.FINANCE, GROUP_ID),
        Caller("zhang", Role.SUPPORT, GROUP_ID),
        Caller("shanghai-01", Role.STORE_MANAGER, GROUP_ID, store_id=store.id),
        Caller("guide-01", Role.GUIDE, GROUP_ID, guide_id=guide_id),
        Caller("courier", Role.LOGISTICS, GROUP_ID),
        Caller("ops", Role.PLATFORM_ADMIN),
    ]
    console.print("Bearer tokens for the demo (valid for the configured token lifetime):")
    for caller in callers:
        typer.echo(f"  {caller.role:<14} {issue_token(settings, caller)}")  # unwrapped, to copy


@cli.command()
def projections(
    catch_up: Annotated[bool, typer.Option(help="Apply every pending event now")] = False,
) -> None:
    """Each read model's lag; with --catch-up, apply what is pending with a progress bar."""
    with bootstrap(Settings()) as ledger:
        if catch_up:
            with progress() as track:
                for name in ledger.projections.projections:
                    ledger.projections.process(name, track(name, ledger.projections.backlog(name)))
        table = Table("read model", "events behind", "seconds behind")
        for name in ledger.projections.projections:
            events, seconds = ledger.projections.lag(name, datetime.now(UTC))
            table.add_row(name, str(events), f"{seconds:.1f}")
        console.print(table)


def _serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    processes: int | None = None,
    worker: bool = True,
) -> None:
    """Serves the API from `processes` server processes. On PostgreSQL they leave the
    read models' background catch-up to a worker process (started here unless `worker`
    is false); on the embedded store each server runs it in a thread."""
    configure_logging()
    url_host, url_port = host or settings.host, port or settings.port
    on_postgres = settings.resolved_persistence is Persistence.POSTGRES
    processes = processes or ((os.cpu_count() or 1) if on_postgres else 1)
    with _worker_beside(on_postgres and worker):
        console.print(
            f"GuideLedger answering on http://{url_host}:{url_port} (docs at /docs) "
            f"from {processes} server processes"
        )
        uvicorn.run(
            "guideledger.api.app:served_app",
            factory=True,
            workers=processes,
            host=url_host,
            port=url_port,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
        )


@contextmanager
def _worker_beside(start: bool) -> Iterator[None]:
    """`guideledger worker` in a process of its own while the servers run."""
    if not start:
        yield
        return
    command = [sys.executable, "-m", "guideledger.api.cli", "worker", "--parent", str(os.getpid())]
    worker = subprocess.Popen(command)  # noqa: S603 (this interpreter, fixed arguments)
    # uvicorn raises the SIGTERM it stopped on again once it has shut down: as an exit
    # here, so that the worker is stopped too before this process ends.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _exit(*_: object) -> None:
    raise SystemExit(0)


cli.registered_commands.extend(books.registered_commands)
cli.add_typer(cells, name="cells")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
