"""RFC 9457 problem+json for every error, mapped from the error hierarchy in one place."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import psycopg
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from guideledger.api.auth import Forbidden, NotAuthenticated
from guideledger.cells.cells import UNREACHABLE, CellUnavailable
from guideledger.cells.moving import GroupMoving, moved_away
from guideledger.eventstore.commands import IdempotencyKeyReused
from guideledger.kernel.errors import Conflict, DomainError, NotFound, RuleViolated

PROBLEM_BASE = "https://guideledger.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("guideledger.api")


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


#: For the OpenAPI spec: what any endpoint may answer besides success.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": title}
    for status, title in [
        (400, "Bad request"),
        (401, "Missing, expired or invalid bearer token"),
        (403, "The caller's role or scope does not allow this"),
        (404, "Not found"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (422, "Refused: invalid input or a broken rule"),
        (503, "The store holding the group cannot be reached now, or is moving; retry"),
    ]
}

_STATUS_BY_ERROR: list[tuple[type[DomainError], int, str]] = [
    (NotAuthenticated, 401, "Not authenticated"),
    (Forbidden, 403, "Forbidden"),
    (CellUnavailable, 503, "Service unavailable"),
    (GroupMoving, 503, "Service unavailable"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (IdempotencyKeyReused, 422, "Idempotency key reused"),
    (RuleViolated, 422, "Rule violated"),
    (DomainError, 400, "Bad request"),
]


class ProblemResponse(JSONResponse):
    """problem+json, written by orjson; by the standard library if orjson cannot (an
    integer past 64 bits, as a client may send)."""

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return super().render(content)


def problem_response(
    request: Request, status: int, slug: str, title: str, detail: str, **extensions: Any
) -> ProblemResponse:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return ProblemResponse(body, status_code=status, headers=headers)


def _domain_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, DomainError)
    status, title = next((s, t) for cls, s, t in _STATUS_BY_ERROR if isinstance(error, cls))
    return problem_response(request, status, error.type, title, error.detail, **error.extensions)


def _validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in error.errors()
    ]
    return problem_response(
        request,
        422,
        "validation-error",
        "Invalid request",
        "the request is not valid",
        errors=errors,
    )


def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
        error.status_code, "http-error"
    )
    return problem_response(request, error.status_code, slug, str(error.detail), str(error.detail))


def _unreachable_store(request: Request, error: Exception) -> ProblemResponse:
    log.warning("store unreachable on %s %s: %s", request.method, request.url.path, type(error))
    unavailable = CellUnavailable("the store holding the group cannot be reached; retry shortly")
    return _domain_error(request, unavailable)


def _store_error(request: Request, error: Exception) -> ProblemResponse:
    """A moved group's former store refusing a write: the caller retries, and this process
    reads the group's placement afresh so that the retry reaches its new store."""
    if not moved_away(error):
        raise error  # to the handler of the unexpected
    group_id = getattr(request.state, "group_id", None)
    if group_id is not None:
        request.app.state.cells.forget_placement(group_id)
    moving = GroupMoving("the group is moving to another cell: nothing was recorded; retry")
    return _domain_error(request, moving)


def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        request, 500, "internal-error", "Internal error", "the server failed; nothing was recorded"
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unreachable in UNREACHABLE:
        app.add_exception_handler(unreachable, _unreachable_store)
    for refused in (persistence.PersistenceError, psycopg.Error):
        app.add_exception_handler(refused, _store_error)
    app.add_exception_handler(Exception, _unexpected_error)
