"""Annotated dependencies: the part of the ledger an operation calls, the acting user, and
the command envelope.

Each endpoint declares the application or handler it calls (`orders: OrdersDep`), never
the whole `Ledger`, so its signature shows what it touches. The providers only read the
ledger of the store holding the caller's group (`LedgerDep`); they are `async` so FastAPI
calls them on the event loop instead of handing each one to a worker thread.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request

from guideledger.api.auth import Caller, current_caller
from guideledger.api.freshness import ReadsDep, get_settlement_audit
from guideledger.api.placement import LedgerDep
from guideledger.api.tenancy import Owners
from guideledger.attribution.application.attribution_desk import AttributionDesk
from guideledger.attribution.application.bindings import Bindings
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.application.audit import SettlementAudit
from guideledger.commissions.application.candidates import CommissionViews
from guideledger.engagement.application.app import EngagementApplication
from guideledger.eventstore.application import Clock
from guideledger.eventstore.commands import Command, IdempotencyKey
from guideledger.feed.webhooks import Webhooks
from guideledger.fulfilment.application.routing_desk import RoutingDesk
from guideledger.fulfilment.application.stock_control import StockControl
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.application.corrections import AttributionCorrections
from guideledger.orders.application.exchanges import Exchanges
from guideledger.orders.application.history import OrderHistory
from guideledger.orders.application.personal import PersonalData
from guideledger.orders.application.waiting import WaitingOrders
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.rankings.application.measures import MeasureQueries
from guideledger.rankings.application.rankings import Rankings

# --- the parts of the ledger ------------------------------------------------------------


async def get_clock(ledger: LedgerDep) -> Clock:
    return ledger.clock


async def get_organisation(ledger: LedgerDep) -> OrganisationApplication:
    return ledger.organisation


async def get_personal_data(ledger: LedgerDep) -> PersonalData:
    """Opens an order's personal data for its readers (null once the member is forgotten)."""
    return PersonalData(ledger.organisation.vault)


async def get_orders(ledger: LedgerDep) -> OrderApplication:
    return ledger.orders


async def get_order_history(ledger: LedgerDep) -> OrderHistory:
    return ledger.order_history


async def get_waiting_orders(ledger: LedgerDep) -> WaitingOrders:
    return ledger.waiting_orders


async def get_stock(ledger: LedgerDep) -> StockControl:
    return ledger.stock


async def get_routing(ledger: LedgerDep) -> RoutingDesk:
    return ledger.routing


async def get_bindings(ledger: LedgerDep) -> Bindings:
    return ledger.bindings


async def get_attribution(ledger: LedgerDep) -> AttributionDesk:
    return ledger.attribution


async def get_corrections(ledger: LedgerDep) -> AttributionCorrections:
    return ledger.corrections


async def get_exchanges(ledger: LedgerDep) -> Exchanges:
    return ledger.exchanges


async def get_engagement(ledger: LedgerDep) -> EngagementApplication:
    return ledger.engagement


async def get_commissions(ledger: LedgerDep) -> CommissionApplication:
    return ledger.commissions


async def get_rankings(ledger: LedgerDep, reads: ReadsDep) -> Rankings:
    """Rankings read where the query tolerates it: a replica of the group's cell, if any."""
    rankings = ledger.rankings
    if reads is ledger.projections:
        return rankings
    return Rankings(reads, rankings.time_zone_of, rankings.now)


async def get_webhooks(ledger: LedgerDep) -> Webhooks:
    return ledger.webhooks


async def get_measures(ledger: LedgerDep, reads: ReadsDep) -> MeasureQueries:
    """Measures read where the query tolerates it: a replica of the group's cell, if any."""
    measures = ledger.measures
    if reads is ledger.projections:
        return measures
    return MeasureQueries(reads, measures.time_zone_of, measures.store_of)


async def get_commission_views(ledger: LedgerDep) -> CommissionViews:
    return ledger.commission_views


async def get_owners(
    ledger: LedgerDep, caller: Annotated[Caller, Depends(current_caller)]
) -> Owners:
    """Who owns what an id names, for ids in a body or query (the path's are checked by
    every operation's `allow`)."""
    return Owners(ledger, caller)


ClockDep = Annotated[Clock, Depends(get_clock)]
OrganisationDep = Annotated[OrganisationApplication, Depends(get_organisation)]
PersonalDataDep = Annotated[PersonalData, Depends(get_personal_data)]
OrdersDep = Annotated[OrderApplication, Depends(get_orders)]
OrderHistoryDep = Annotated[OrderHistory, Depends(get_order_history)]
WaitingOrdersDep = Annotated[WaitingOrders, Depends(get_waiting_orders)]
StockDep = Annotated[StockControl, Depends(get_stock)]
RoutingDep = Annotated[RoutingDesk, Depends(get_routing)]
BindingsDep = Annotated[Bindings, Depends(get_bindings)]
AttributionDep = Annotated[AttributionDesk, Depends(get_attribution)]
CorrectionsDep = Annotated[AttributionCorrections, Depends(get_corrections)]
ExchangesDep = Annotated[Exchanges, Depends(get_exchanges)]
EngagementDep = Annotated[EngagementApplication, Depends(get_engagement)]
CommissionsDep = Annotated[CommissionApplication, Depends(get_commissions)]
SettlementAuditDep = Annotated[SettlementAudit, Depends(get_settlement_audit)]
RankingsDep = Annotated[Rankings, Depends(get_rankings)]
MeasuresDep = Annotated[MeasureQueries, Depends(get_measures)]
CommissionViewsDep = Annotated[CommissionViews, Depends(get_commission_views)]
WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]
OwnersDep = Annotated[Owners, Depends(get_owners)]


# --- the command envelope ---------------------------------------------------------------

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key and body returns the first response and writes "
        "nothing; the same key with another body is refused. Keys are the caller's own and "
        "the operation's: another caller's or another operation's key never collides.",
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
    """The acting user (from the bearer token) and the idempotency key, if sent, scoped to
    the caller and the operation (its method and route template)."""
    if idempotency_key is None:
        return Command(actor=caller.actor)
    fingerprint = await request_fingerprint(request)
    scope = f"{caller.identity} {request.method} {request.scope['route'].path}"
    return Command(
        actor=caller.actor, idempotency=IdempotencyKey(idempotency_key, fingerprint, scope)
    )


CommandDep = Annotated[Command, Depends(get_command)]
