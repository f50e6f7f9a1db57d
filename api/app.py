"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.problems import install_problem_handlers, problem_response
from api.routers import attribution, catalogue, commissions, fulfilment, orders, organisation
from infrastructure.bootstrap import Ledger, bootstrap

MAX_BODY_BYTES = 1024 * 1024


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
    app.middleware("http")(_limit_body_size)
    for module in (organisation, catalogue, orders, fulfilment, attribution, commissions):
        app.include_router(module.router)
    return app


async def _limit_body_size(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return problem_response(
            request,
            413,
            "payload-too-large",
            "Request body too large",
            f"request bodies are limited to {MAX_BODY_BYTES} bytes",
        )
    return await call_next(request)
