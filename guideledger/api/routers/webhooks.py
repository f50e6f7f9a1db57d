"""Webhooks: a group's endpoints for the event feed, their delivery log and replays.

The secret is shown once, when the endpoint is registered; deliveries carry its
HMAC-SHA256 signature (see `guideledger.feed.webhooks`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from guideledger.api.auth import Caller, Forbidden
from guideledger.api.dependencies import WebhooksDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import StrictModel
from guideledger.api.tenancy import allow, tenant

router = APIRouter(tags=["webhooks"], responses=PROBLEM_RESPONSES)


async def group_admin(caller: Annotated[Caller, Depends(allow())]) -> Caller:
    """The group's webhooks carry every brand's events: an admin of one brand has none."""
    if caller.brand_id is not None:
        raise Forbidden("the group's webhooks are its group-wide admins'")
    return caller


Admin = Annotated[Caller, Depends(group_admin)]


class RegisterWebhook(StrictModel):
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="https:// (plain http:// only on loopback)",
        examples=["https://payroll.example.com/guideledger"],
    )


class WebhookView(BaseModel):
    endpoint_id: UUID
    url: str
    created_at: datetime


class RegisteredWebhook(WebhookView):
    secret: str = Field(description="Shown this once: the key deliveries are signed with")


class DeliveryView(BaseModel):
    delivery_id: UUID
    event_id: UUID
    event_type: str
    log: str
    position: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_response: str | None
    delivered_at: datetime | None


class Replay(StrictModel):
    from_position: int = Field(ge=0, description="The log position to queue events from, on")
    log: Literal["orders", "commissions"] | None = Field(
        default=None, description="One log's events (default: both)"
    )


class Replayed(BaseModel):
    queued: int


@router.post("/webhooks", operation_id="registerWebhook", status_code=status.HTTP_201_CREATED)
def register_webhook(
    body: RegisterWebhook, webhooks: WebhooksDep, caller: Admin
) -> RegisteredWebhook:
    """An endpoint the group's events are posted to from now on."""
    return RegisteredWebhook(**webhooks.register(tenant(caller), body.url))


@router.get("/webhooks", operation_id="listWebhooks")
def list_webhooks(webhooks: WebhooksDep, caller: Admin) -> list[WebhookView]:
    return [WebhookView(**row) for row in webhooks.endpoints(tenant(caller))]


@router.delete(
    "/webhooks/{endpoint_id}",
    operation_id="removeWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_webhook(endpoint_id: UUID, webhooks: WebhooksDep, caller: Admin) -> Response:
    webhooks.remove(tenant(caller), endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{endpoint_id}/deliveries", operation_id="listWebhookDeliveries")
def list_deliveries(
    endpoint_id: UUID,
    webhooks: WebhooksDep,
    caller: Admin,
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeliveryView]:
    """The delivery log, in the order of the events' positions."""
    webhooks.endpoint(tenant(caller), endpoint_id)
    rows = webhooks.deliveries(endpoint_id, status_, limit, offset)
    return [DeliveryView(**row) for row in rows]


@router.post(
    "/webhooks/{endpoint_id}/replay",
    operation_id="replayWebhook",
    status_code=status.HTTP_202_ACCEPTED,
)
def replay(endpoint_id: UUID, body: Replay, webhooks: WebhooksDep, caller: Admin) -> Replayed:
    """Queues the group's events again for this endpoint, from a log position on."""
    queued = webhooks.replay(tenant(caller), endpoint_id, body.from_position, body.log)
    return Replayed(queued=queued)
