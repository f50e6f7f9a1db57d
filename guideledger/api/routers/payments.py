"""Payment notifications from the payment provider: the only way an order becomes paid.

The provider carries no bearer token; it signs each notification (see
`guideledger.api.payment_provider`), and the signature is checked over the body's raw
bytes before the body is read as JSON.
"""

from __future__ import annotations

import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from guideledger.api.payment_provider import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from guideledger.api.placement import cells_of, ledger_of_group
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import Accepted, Fen, StrictModel
from guideledger.orders.domain.payments import MAX_TRANSACTION_ID_LENGTH, ProviderPayment

router = APIRouter(tags=["payments"], responses=PROBLEM_RESPONSES)


class PaymentNotification(StrictModel):
    """The provider took `amount_fen` for the order at `paid_at` in its transaction."""

    transaction_id: str = Field(
        min_length=1, max_length=MAX_TRANSACTION_ID_LENGTH, pattern=r"^[\x21-\x7e]+$"
    )
    order_id: UUID
    group_id: UUID | None = Field(
        default=None,
        description="The group whose merchant account took the payment (the checkout passes "
        "it to the provider); it names the store holding the order when groups are on cells",
    )
    amount_fen: Fen
    paid_at: AwareDatetime

    def to_domain(self) -> ProviderPayment:
        return ProviderPayment(self.transaction_id, self.order_id, self.amount_fen, self.paid_at)


async def signed_notification(
    request: Request,
    timestamp: Annotated[
        str | None, Header(alias=TIMESTAMP_HEADER, description="Unix seconds")
    ] = None,
    nonce: Annotated[
        str | None, Header(alias=NONCE_HEADER, description="1 to 64 visible characters")
    ] = None,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="Lowercase hex HMAC-SHA256 of timestamp, nonce and raw body, "
            "each followed by a newline",
        ),
    ] = None,
) -> PaymentNotification:
    """The notification, once its signature and timestamp are checked (401 otherwise)."""
    secret = cells_of(request).home.settings.payment_provider_secret.get_secret_value()
    body = await request.body()
    verify(secret, timestamp, nonce, signature, body, time.time())
    try:
        return PaymentNotification.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


@router.post(
    "/payments/notifications",
    operation_id="notifyPayment",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PaymentNotification.model_json_schema()}},
        }
    },
)
async def notify_payment(
    request: Request, notification: Annotated[PaymentNotification, Depends(signed_notification)]
) -> Accepted:
    """The order is paid. The same notification delivered again is answered as the first
    time and writes nothing; another transaction for a paid order, or other facts under a
    recorded transaction id, are refused with 409."""
    ledger = await ledger_of_group(request, notification.group_id)
    paid = await run_in_threadpool(ledger.orders.pay, notification.to_domain())
    return Accepted.of(paid)
