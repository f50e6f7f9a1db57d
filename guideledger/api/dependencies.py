"""Annotated dependencies: the ledger, the acting user, and the command envelope."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request

from guideledger.api.auth import Caller, current_caller
from guideledger.composition import Ledger
from guideledger.eventstore.commands import Command, IdempotencyKey


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key and body returns the first response and writes "
        "nothing; the same key with another body is refused.",
    ),
]


async def request_fingerprint(request: Request) -> str:
    """What makes two requests 'the same': method, path and the body's JSON meaning."""
    raw = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS) if raw else b""
    except orjson.JSONDecodeError:
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), canonical):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


async def get_command(
    request: Request,
    caller: Annotated[Caller, Depends(current_caller)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Command:
    """The acting user (from the bearer token) and the idempotency key, if sent."""
    if idempotency_key is None:
        return Command(actor=caller.actor)
    fingerprint = await request_fingerprint(request)
    return Command(actor=caller.actor, idempotency=IdempotencyKey(idempotency_key, fingerprint))


CommandDep = Annotated[Command, Depends(get_command)]
