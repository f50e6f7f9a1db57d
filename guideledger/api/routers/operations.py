"""Operations: liveness, readiness and metrics (public, for load balancers and Prometheus),
and the operational sweeps a scheduler calls (expire unpaid orders, mature commissions).

The sweeps keep their context's tag first ("orders", "ledger"), as published: generated
clients group an operation under its first tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.placement import CellsDep, HomeLedgerDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import StrictModel
from guideledger.api.tenancy import allow_platform
from guideledger.feed.relay import Feed
from guideledger.platform.observability import PROJECTION_LAG_EVENTS, PROJECTION_LAG_SECONDS
from guideledger.readmodels.runner import ProjectionRunner

router = APIRouter()
#: A read model further behind than this is not ready to serve.
READY_LAG_SECONDS = 30.0


class Health(BaseModel):
    status: str


class ProjectionLag(BaseModel):
    projection: str
    events_behind: int
    seconds_behind: float


class Readiness(BaseModel):
    status: str
    stores: str
    projections: list[ProjectionLag]


@router.get("/health", operation_id="health", tags=["operations"])
async def health() -> Health:
    """The process is up (answered on the event loop: no worker thread)."""
    return Health(status="ok")


def _lags(projections: ProjectionRunner, names: Iterable[str]) -> list[ProjectionLag]:
    now = datetime.now(UTC)  # lag is real time: the library stamps events with the wall clock
    lags = []
    for name in names:
        events, seconds = projections.lag(name, now)
        PROJECTION_LAG_EVENTS.labels(name).set(events)
        PROJECTION_LAG_SECONDS.labels(name).set(seconds)
        lags.append(ProjectionLag(projection=name, events_behind=events, seconds_behind=seconds))
    return lags


@router.get(
    "/ready",
    operation_id="ready",
    tags=["operations"],
    responses={503: {"model": Readiness, "description": "A store is down or a read model lags"}},
)
def ready(home: HomeLedgerDep) -> Response:
    """The event stores answer and every read model serving reads is within 30 s of its
    events. A brand's candidate commission view serves none (promoting it books its
    difference), so one being built from event zero is not waited for; nor is the event
    feed (a broker down does not stop the API)."""
    projections = home.projections
    try:
        candidates = home.commission_views.candidate_names()
        serving = [
            name
            for name, follower in list(projections.projections.items())
            if name not in candidates and not isinstance(follower, Feed)
        ]
        lags = _lags(projections, serving)
    except Exception:
        body = Readiness(status="unavailable", stores="unreachable", projections=[])
        return JSONResponse(body.model_dump(), status_code=503)
    lagging = any(lag.events_behind and lag.seconds_behind > READY_LAG_SECONDS for lag in lags)
    body = Readiness(status="lagging" if lagging else "ready", stores="ok", projections=lags)
    return JSONResponse(body.model_dump(), status_code=503 if lagging else 200)


@router.get(
    "/metrics",
    operation_id="metrics",
    tags=["operations"],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(home: HomeLedgerDep) -> Response:
    projections = home.projections
    _lags(projections, list(projections.projections))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# --- sweeps -------------------------------------------------------------------------------


class ExpireUnpaidOrders(StrictModel):
    as_of: AwareDatetime | None = Field(
        default=None, description="Defaults to now; cancels orders whose window closed by then"
    )


class ExpiredOrders(BaseModel):
    expired: list[UUID]


class MatureCommissions(StrictModel):
    as_of: AwareDatetime | None = None


class Matured(BaseModel):
    matured: int


@router.post(
    "/operations/expire-unpaid-orders",
    operation_id="expireUnpaidOrders",
    dependencies=[Depends(allow_platform())],
    tags=["orders", "operations"],
    responses=PROBLEM_RESPONSES,
)
def expire_unpaid_orders(body: ExpireUnpaidOrders, cells: CellsDep) -> ExpiredOrders:
    """In every group's store."""
    expired = [
        order_id
        for _, ledger in cells.stores()
        for order_id in ledger.orders.expire_unpaid_orders(body.as_of)
    ]
    return ExpiredOrders(expired=expired)


@router.post(
    "/operations/mature-commissions",
    operation_id="matureCommissions",
    dependencies=[Depends(allow_platform())],
    tags=["ledger", "operations"],
    responses=PROBLEM_RESPONSES,
)
def mature_commissions(body: MatureCommissions, cells: CellsDep) -> Matured:
    """In every group's store."""
    matured = sum(ledger.commissions.mature_due(body.as_of) for _, ledger in cells.stores())
    return Matured(matured=matured)
