"""The `guideledger` command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from api.app import create_app
from api.demo import demo_is_loaded, demo_start, load_demo
from infrastructure.bootstrap import bootstrap
from infrastructure.clock import ManualClock
from infrastructure.settings import Settings

cli = typer.Typer(help="GuideLedger: orders and commissions for guide-led retail.")
console = Console()

Host = Annotated[str | None, typer.Option(help="Address to listen on (default from settings)")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default from settings)")]


@cli.command()
def serve(host: Host = None, port: Port = None) -> None:
    """Serve the HTTP API on the configured store."""
    settings = Settings()
    _serve(settings, host, port)


@cli.command()
def demo(
    host: Host = None,
    port: Port = None,
    orders: Annotated[int, typer.Option(min=0, help="How many demo orders to place")] = 3000,
    serve: Annotated[bool, typer.Option(help="Serve the API once loaded")] = True,
) -> None:
    """Load the demo data set (once) into the configured store, then serve it."""
    settings = Settings()
    now = datetime.now(UTC)
    clock = ManualClock(demo_start(now))
    ledger = bootstrap(settings, clock)
    try:
        if demo_is_loaded(ledger):
            console.print("Demo data is already loaded.")
        else:
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
                    clock.advance,
                    orders=orders,
                    progress=lambda done: bar.update(task, completed=done),
                )
            console.print(f"Loaded the demo: {orders} orders into {settings.data_dir}/.")
    finally:
        ledger.close()
    if serve:
        _serve(settings, host, port)


@cli.command("expire-unpaid")
def expire_unpaid(
    as_of: Annotated[
        datetime | None, typer.Option(help="Instant to expire as of (UTC); default now")
    ] = None,
) -> None:
    """Cancel every order whose payment window has closed."""
    ledger = bootstrap(Settings())
    try:
        moment = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of
        expired = ledger.orders.expire_unpaid_orders(moment)
        console.print(f"Cancelled {len(expired)} unpaid orders past their payment window.")
    finally:
        ledger.close()


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    app = create_app(bootstrap(settings))
    url_host, url_port = host or settings.host, port or settings.port
    console.print(f"GuideLedger answering on http://{url_host}:{url_port} (docs at /docs)")
    uvicorn.run(app, host=url_host, port=url_port, log_level="info")


def main() -> None:
    cli()
