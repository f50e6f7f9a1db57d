"""Read-your-writes across a cell's replicas: commands answer with their commit position,
and queries that tolerate staleness are read on a replica, saying how fresh they are.

`Commit-Position` (on every successful command of a group whose cell has a replica) is
the primary's WAL position once the command is done. A query sent with `Read-After:
<position>` reflects at least that position: the replica serves it once it has replayed
that far, else the primary does. Every such query answers `Read-Source` (replica or
primary), `Read-Position` (on a replica: the WAL position replayed) and `Read-Staleness`
(seconds the replica trailed the primary's last commit it replayed; 0 on the primary).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guideledger.api.auth import Caller, current_caller
from guideledger.api.placement import SAFE_METHODS, WRITTEN_STORE, LedgerDep, cells_of
from guideledger.cells.cells import UNREACHABLE
from guideledger.cells.replicas import (
    Freshness,
    ReplicaReads,
    commit_position,
    parse_position,
)
from guideledger.commissions.application.audit import SettlementAudit
from guideledger.readmodels.model import ReadModels
from guideledger.readmodels.postgres import PostgresReadModelStore

ON_PRIMARY = Freshness("primary", "", 0.0)

ReadAfterHeader = Annotated[
    str | None,
    Header(
        alias="Read-After",
        max_length=17,
        description="A `Commit-Position` this read must reflect (read-your-writes): served "
        "by a replica once it has replayed that far, else by the primary",
    ),
]


async def get_reads(
    request: Request,
    response: Response,
    ledger: LedgerDep,
    caller: Annotated[Caller, Depends(current_caller)],
    read_after: ReadAfterHeader = None,
) -> ReadModels:
    """The read models a staleness-tolerant query reads: its cell's replica if it has one,
    else the primary's (caught up in the request, as every read there)."""
    after = None if read_after is None else parse_position(read_after)

    def told(freshness: Freshness) -> None:
        response.headers.update(freshness.headers())

    def reads() -> ReadModels:
        replica = cells.replica(caller.group_id)
        if replica is not None:
            try:
                return ReplicaReads(replica, ledger.projections, after, told)
            except UNREACHABLE:  # the replica is down: the primary answers
                pass
        told(ON_PRIMARY)
        return ledger.projections

    cells = cells_of(request)
    if cells.directory is None:
        told(ON_PRIMARY)
        return ledger.projections
    return await run_in_threadpool(reads)


async def get_settlement_audit(
    request: Request,
    response: Response,
    ledger: LedgerDep,
    caller: Annotated[Caller, Depends(current_caller)],
    read_after: ReadAfterHeader = None,
) -> SettlementAudit:
    """A fresh replay of the commission log for each request: the replica's copy, in this
    process, if the cell has a replica and it has replayed `Read-After`; else the
    primary's (a big log in parts, by several processes)."""
    after = None if read_after is None else parse_position(read_after)

    def audit() -> SettlementAudit:
        replica = None if cells.directory is None else cells.replica(caller.group_id)
        try:
            if replica is not None and replica.reached(after):
                response.headers.update(replica.freshness().headers())
                events = ledger.commissions.recorder.table  # type: ignore[attr-defined]
                return ledger.settlement_audit(replica.log(events))
        except UNREACHABLE:  # the replica is down: the primary answers
            pass
        response.headers.update(ON_PRIMARY.headers())
        return ledger.settlement_audit()

    cells = cells_of(request)
    return await run_in_threadpool(audit)


ReadsDep = Annotated[ReadModels, Depends(get_reads)]


class CommitPosition:
    """Adds `Commit-Position` to a successful command's response on a replicated store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            written = scope.get("state", {}).get(WRITTEN_STORE)
            start = message["type"] == "http.response.start"
            if start and written is not None and 200 <= message["status"] < 300:
                store = written.projections.store
                assert isinstance(store, PostgresReadModelStore)
                position = await run_in_threadpool(commit_position, store)
                headers = [*message.get("headers", ())]
                headers.append((b"commit-position", position.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_position)
