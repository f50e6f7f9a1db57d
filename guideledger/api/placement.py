"""Which ledger serves a request: the one of the store holding the caller's group."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from guideledger.api.auth import Caller, current_caller
from guideledger.cells.cells import Cells
from guideledger.composition import Ledger

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITTEN_STORE = "replicated_store"
"""The request state's key for the primary a command wrote to, if its cell has replicas."""


def cells_of(request: Request) -> Cells:
    cells: Cells = request.app.state.cells
    return cells


async def ledger_of_group(request: Request, group_id: UUID | None) -> Ledger:
    """The ledger holding `group_id` (the home store's for none), asking the directory
    off the event loop only when this process does not know the placement yet; a command
    on a store with replicas is noted for its `Commit-Position`."""
    cells = cells_of(request)
    request.state.group_id = group_id  # forgotten if its store refuses: it moved
    serving = cells.known(group_id)
    if serving is None:
        serving = await run_in_threadpool(cells.serving, group_id)
    ledger, replicated = serving
    if replicated and request.method not in SAFE_METHODS:
        setattr(request.state, WRITTEN_STORE, ledger)  # for its `Commit-Position`
    return ledger


async def get_ledger(
    request: Request, caller: Annotated[Caller, Depends(current_caller)]
) -> Ledger:
    """The caller's group's ledger; the platform's admins act on the group the path names
    (else on the home store)."""
    return await ledger_of_group(request, caller.group_id or _path_group(request))


def _path_group(request: Request) -> UUID | None:
    try:
        return UUID(request.path_params["group_id"])
    except (KeyError, ValueError):
        return None


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


async def get_home(request: Request) -> Ledger:
    """The home store's ledger: what the public operations (readiness, metrics) report on."""
    return cells_of(request).home


HomeLedgerDep = Annotated[Ledger, Depends(get_home)]
CellsDep = Annotated[Cells, Depends(cells_of)]
