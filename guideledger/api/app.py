"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guideledger.api.auth import TokenVerifier
from guideledger.api.freshness import CommitPosition
from guideledger.api.problems import install_problem_handlers, problem_response
from guideledger.api.routers import (
    attribution,
    bindings,
    catalogue,
    commissions,
    dashboard,
    fulfilment,
    measures,
    members,
    operations,
    orders,
    organisation,
    payments,
    rankings,
    read_models,
    sandbox,
    shares,
    webhooks,
)
from guideledger.cells.cells import Cells, open_cells
from guideledger.composition import Ledger
from guideledger.platform.observability import (
    REQUEST_ID,
    UNMATCHED_ROUTE,
    configure_logging,
    observe_request,
)
from guideledger.platform.settings import Environment, Persistence, Settings

access_log = logging.getLogger("guideledger.access")
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"request bodies are limited to {MAX_BODY_BYTES} bytes"


def served_app() -> FastAPI:
    """What each server process of `guideledger serve` runs: ledgers of its own from the
    settings. On PostgreSQL the read models' background catch-up is a worker process's
    (`guideledger worker`); the embedded store's server runs it in a thread of its own
    (several runners on one store share the read models' positions safely)."""
    configure_logging()
    app = create_app(cells=open_cells(Settings()))
    ledger: Ledger = app.state.ledger
    if ledger.settings.resolved_persistence is not Persistence.POSTGRES:
        ledger.projections.start()
        ledger.webhooks.start(ledger.projections.store.leads_background_work)
    return app


def create_app(ledger: Ledger | None = None, cells: Cells | None = None) -> FastAPI:
    """An app over `ledger` alone, over `cells` (closed on shutdown), or over the ledger
    and cells the settings name (closed on shutdown)."""
    owns_cells = ledger is None
    if cells is None:
        cells = Cells(ledger) if ledger is not None else open_cells(Settings())
    ledger = cells.home

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_cells:
            cells.close()

    app = FastAPI(
        title="GuideLedger",
        version="0.1.0",
        summary="Orders, attribution and commissions for guide-led retail",
        lifespan=lifespan,
    )
    app.state.cells, app.state.ledger = cells, ledger
    app.state.tokens = TokenVerifier(ledger.settings)
    install_problem_handlers(app)
    app.add_middleware(CommitPosition)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(Observe, access_log=ledger.settings.access_log)
    # The routers' routes go on the app as they are (they carry their routers' tags and
    # responses already, and the routers add no prefix or dependency): FastAPI keeps an
    # included router as one nested route that each request matches twice, route by
    # route, which cost a third of the framework's time per request.
    for module in (
        organisation,
        catalogue,
        members,
        orders,
        payments,
        fulfilment,
        attribution,
        bindings,
        shares,
        rankings,
        measures,
        commissions,
        dashboard,
        read_models,
        webhooks,
        operations,
    ):
        app.router.routes.extend(module.router.routes)
    if ledger.settings.environment is not Environment.PRODUCTION:
        app.router.routes.extend(sandbox.router.routes)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    return app


class Observe:
    """A request id for every log line and response, and each request's count and latency;
    a log line per request only if the settings ask (`access_log`). Plain ASGI: no task or
    stream of its own per request."""

    def __init__(self, app: ASGIApp, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            observe_request(scope["method"], route, status, elapsed)
            if self.access_log:
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"status": status, "ms": round(elapsed * 1000, 1)},
                )
        finally:
            REQUEST_ID.reset(token)


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID (at most 64 characters), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id" and value:
            return bytes(value).decode("latin-1")[:64]
    return uuid4().hex


class BodySizeLimit:
    """Refuses bodies over MAX_BODY_BYTES with 413, whether declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            response = problem_response(
                Request(scope), 413, "payload-too-large", "Request body too large", TOO_LARGE
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise StarletteHTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)
