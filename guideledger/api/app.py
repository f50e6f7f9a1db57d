"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from uuid import uuid4

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guideledger.api.problems import install_problem_handlers, problem_response
from guideledger.api.routers import (
    attribution,
    bindings,
    catalogue,
    commissions,
    dashboard,
    fulfilment,
    members,
    operations,
    orders,
    organisation,
    rankings,
    read_models,
    shares,
)
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.observability import LATENCY, REQUEST_ID, REQUESTS, configure_logging

access_log = logging.getLogger("guideledger.access")
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"request bodies are limited to {MAX_BODY_BYTES} bytes"


def served_app() -> FastAPI:
    """What each worker process of `guideledger serve --workers N` runs: a ledger of its
    own from the settings, whose read models its own background runner keeps current
    (the runners of several workers share the read models' positions safely)."""
    configure_logging()
    app = create_app()
    app.state.ledger.projections.start()
    return app


def create_app(ledger: Ledger | None = None) -> FastAPI:
    """An app over `ledger`, or over one built from settings (closed on shutdown)."""
    owns_ledger = ledger is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_ledger:
            app.state.ledger.close()

    app = FastAPI(
        title="GuideLedger",
        version="0.1.0",
        summary="Orders, attribution and commissions for guide-led retail",
        lifespan=lifespan,
    )
    app.state.ledger = ledger or bootstrap()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.middleware("http")(_observe)
    for module in (
        organisation,
        catalogue,
        members,
        orders,
        fulfilment,
        attribution,
        bindings,
        shares,
        rankings,
        commissions,
        dashboard,
        read_models,
        operations,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    return app


async def _observe(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A request id for every log line and response, and the request's count and latency."""
    request_id = (request.headers.get("x-request-id") or uuid4().hex)[:64]
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    try:
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        LATENCY.labels(request.method, template).observe(elapsed)
        REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        access_log.info(
            "%s %s %s",
            request.method,
            request.url.path,
            response.status_code,
            extra={"status": response.status_code, "ms": round(elapsed * 1000, 1)},
        )
    finally:
        REQUEST_ID.reset(token)
    response.headers["X-Request-ID"] = request_id
    return response


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
