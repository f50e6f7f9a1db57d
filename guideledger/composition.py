"""Wires the applications, read models and process managers of one ledger, each part
given what it needs through its constructor. `bootstrap` (the composition root) picks
the settings and how a big audit is split; the audit's worker processes compose
their own ledger here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from uuid import UUID

from guideledger.attribution.application.attribution_desk import AttributionDesk
from guideledger.attribution.application.bindings import Bindings
from guideledger.attribution.application.projections import MemberBindings
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.application.audit import ReplayParts, SettlementAudit
from guideledger.commissions.application.candidates import CommissionViews
from guideledger.commissions.application.views import (
    CommissionsDue,
    HeldLines,
    LedgerBalances,
    SettlementPeriods,
)
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.engagement.application.app import EngagementApplication
from guideledger.engagement.application.projections import EngagementByDay, ShareReach
from guideledger.eventstore.advisory_locks import AdvisoryLocks
from guideledger.eventstore.application import Clock, LedgerApplication, Runtime
from guideledger.eventstore.concurrency import KeyLocks, NoKeyLocks
from guideledger.eventstore.log import AggregateLog, aggregate_log
from guideledger.eventstore.recorder import events_after
from guideledger.feed.contract import IntegrationEvent
from guideledger.feed.jetstream import FeedConfig, JetStreamPublisher
from guideledger.feed.relay import (
    Feed,
    OrderFeed,
    Publisher,
    StatementFeed,
    WebhookOrderFeed,
    WebhookStatementFeed,
)
from guideledger.feed.webhooks import Webhooks
from guideledger.former_modules import register_former_modules
from guideledger.fulfilment.application.projections import (
    NodeDailyLoads,
    NodeDirectory,
    StockAvailability,
)
from guideledger.fulfilment.application.routing_desk import RoutingDesk
from guideledger.fulfilment.application.stock_control import StockControl
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.application.corrections import AttributionCorrections
from guideledger.orders.application.exchanges import Exchanges
from guideledger.orders.application.history import OrderHistory
from guideledger.orders.application.projections import UnpaidOrders, UnroutableQueue
from guideledger.orders.application.sale_facts import SaleFacts
from guideledger.orders.application.sales import SalesByDay, ShareSales
from guideledger.orders.application.waiting import WaitingOrders
from guideledger.orders.domain.order import Order
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.application.directory import GuideDirectory, UnitDirectory
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.units import Node
from guideledger.platform.observability import count_lost_race
from guideledger.platform.persistence import eventsourcing_env
from guideledger.platform.settings import Persistence, Settings
from guideledger.platform.vault import KeyVault
from guideledger.processes import CommissionProcess, GuideDepartures
from guideledger.rankings.application.measures import MeasureQueries
from guideledger.rankings.application.rankings import Rankings
from guideledger.readmodels.postgres import PostgresReadModelStore
from guideledger.readmodels.runner import ProjectionRunner
from guideledger.readmodels.sqlite import SQLiteReadModelStore
from guideledger.readmodels.store import MemoryReadModelStore, ReadModelStore

AuditParts = Callable[[int], ReplayParts | None]
"""How to split the audit of a log with that many commission events (None: don't)."""


@dataclass
class Ledger:
    """Everything a request handler or CLI command needs."""

    settings: Settings
    clock: Clock
    organisation: OrganisationApplication
    orders: OrderApplication
    order_history: OrderHistory
    waiting_orders: WaitingOrders
    stock: StockControl
    routing: RoutingDesk
    bindings: Bindings
    attribution: AttributionDesk
    corrections: AttributionCorrections
    exchanges: Exchanges
    engagement: EngagementApplication
    commissions: CommissionApplication
    projections: ProjectionRunner
    rankings: Rankings
    measures: MeasureQueries
    commission_views: CommissionViews
    audit_parts: AuditParts
    webhooks: Webhooks
    feed: JetStreamPublisher | None = None

    def settlement_audit(self, log: AggregateLog | None = None) -> SettlementAudit:
        """Finance's replay of the commission ledger: of `log` (a replica's copy) in this
        process, else of the store's, a big one replayed in parts by several processes."""
        if log is not None:
            return SettlementAudit(self.commissions, log)
        logged = events_after(self.commissions.recorder)
        return SettlementAudit(
            self.commissions, aggregate_log(self.commissions), parts=self.audit_parts(logged)
        )

    def close(self) -> None:
        self.projections.stop()
        self.webhooks.stop()
        if self.feed is not None:
            self.feed.close()
        self.commissions.close()
        self.engagement.close()
        self.orders.close()
        self.organisation.close()
        self.projections.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_model_store(settings: Settings) -> ReadModelStore:
    persistence = settings.resolved_persistence
    if persistence is Persistence.MEMORY:
        return MemoryReadModelStore()
    if persistence is Persistence.SQLITE:
        return SQLiteReadModelStore(settings.data_dir / "readmodels.sqlite3")
    return PostgresReadModelStore(
        settings.database_conninfo, settings.postgres_schema, settings.postgres_pool_size
    )


def key_locks(settings: Settings, application: str) -> KeyLocks:
    """How an application whose commands take turns on keys holds contended keys against
    other processes."""
    if settings.resolved_persistence is not Persistence.POSTGRES:
        return NoKeyLocks()  # one process writes the store
    return AdvisoryLocks(settings.database_conninfo, f"{settings.postgres_schema}/{application}")


def in_one_process(_logged_events: int) -> ReplayParts | None:
    """An audit replayed whole, here (as the audit's own worker processes replay)."""
    return None


def compose(
    settings: Settings,
    clock: Clock,
    audit_parts: AuditParts = in_one_process,
    store: ReadModelStore | None = None,
) -> Ledger:
    """A ledger over the stores the settings name (set up beforehand: `setup_turn`), its
    read models in `store` if given."""
    register_former_modules()
    projections = ProjectionRunner(store or read_model_store(settings))
    vault = KeyVault(projections.store)

    def runtime(application: type[LedgerApplication], takes_turns: bool = False) -> Runtime:
        env = eventsourcing_env(settings, application.name)
        locks = key_locks(settings, application.name) if takes_turns else NoKeyLocks()
        return Runtime(clock, env, count_lost_race, locks)

    organisation = OrganisationApplication(runtime(OrganisationApplication), vault)
    orders = OrderApplication(
        runtime(OrderApplication, takes_turns=True),  # orders for the same SKUs
        organisation,
        projections,
        payment_window=timedelta(minutes=settings.payment_window_minutes),
    )
    commissions = CommissionApplication(
        runtime(CommissionApplication), organisation, projections, orders.get_order
    )
    # Fulfilment's and attribution's commands run through the orders' event store.
    waiting_orders = WaitingOrders(orders, organisation, projections)
    stock = StockControl(orders, organisation, projections, waiting_orders.route_again)
    bindings = Bindings(orders, organisation, projections, orders.attributor)
    attribution = AttributionDesk(orders, organisation)
    engagement = EngagementApplication(runtime(EngagementApplication), organisation)

    def time_zone_of(brand_id: UUID) -> str:
        return organisation.fact(Brand, brand_id, "brand_id").time_zone

    for application in (organisation, orders, engagement, commissions):
        projections.add_source(application)
    _register_followers(projections, orders, bindings, commissions)
    feed = _feed_publisher(settings)
    if feed is not None:
        register_feed(projections, organisation, orders, commissions, feed)
    webhooks = _webhooks(projections, organisation, orders, commissions, clock)
    rankings = Rankings(projections, time_zone_of, clock.now)

    def store_of(store_id: UUID) -> Node:
        return organisation.load(Node, store_id)

    return Ledger(
        settings,
        clock,
        organisation,
        orders,
        OrderHistory(orders),
        waiting_orders,
        stock,
        RoutingDesk(orders, organisation, orders.fulfilment),
        bindings,
        attribution,
        AttributionCorrections(orders, attribution, period_gate=commissions),
        Exchanges(orders),
        engagement,
        commissions,
        projections,
        rankings,
        MeasureQueries(projections, time_zone_of, store_of),
        _commission_views(projections, commissions),
        audit_parts,
        webhooks,
        feed,
    )


def _register_followers(
    projections: ProjectionRunner,
    orders: OrderApplication,
    bindings: Bindings,
    commissions: CommissionApplication,
) -> None:
    """The read models and process managers, each following one application's log."""
    for projection in (
        StockAvailability(),
        NodeDailyLoads(),
        NodeDirectory(),
        UnitDirectory(),
        UnroutableQueue(),
        UnpaidOrders(),
        GuideDirectory(),
        MemberBindings(),
        SalesByDay(),
        SaleFacts(),
        ShareSales(),
        EngagementByDay(),
        ShareReach(),
        LedgerBalances(),
        SettlementPeriods(),
        HeldLines(),
        CommissionsDue(),
        GuideDepartures(bindings, commissions),
        CommissionProcess(commissions),
    ):
        projections.register(projection)


def _feed_publisher(settings: Settings) -> JetStreamPublisher | None:
    """The event feed's publisher, when a NATS server is configured (else no feed)."""
    url = settings.feed_url
    if url is None:
        return None
    return JetStreamPublisher(FeedConfig(url, settings.nats_stream, settings.nats_subject_prefix))


def register_feed(
    projections: ProjectionRunner,
    organisation: OrganisationApplication,
    orders: OrderApplication,
    commissions: CommissionApplication,
    publisher: Publisher,
    feeds: tuple[type[OrderFeed], type[StatementFeed]] = (OrderFeed, StatementFeed),
) -> tuple[OrderFeed, StatementFeed]:
    """The relay: the followers turning order and statement facts into published events."""

    def order_brand(order_id: UUID) -> UUID:
        return orders.load(Order, order_id, for_change=False).brand_id

    statement = partial(commissions.load, SettlementPeriod, for_change=False)
    group_of_brand = organisation.group_of_brand
    order_feed, statement_feed = feeds
    followers = (
        order_feed(publisher, group_of_brand, order_brand),
        statement_feed(publisher, group_of_brand, statement),
    )
    for follower in followers:
        projections.register(follower)
    return followers


def _webhooks(
    projections: ProjectionRunner,
    organisation: OrganisationApplication,
    orders: OrderApplication,
    commissions: CommissionApplication,
    clock: Clock,
) -> Webhooks:
    """The groups' webhooks, queued by feed followers of their own."""
    followers: tuple[Feed, ...] = ()

    def replayed(log: str | None, from_position: int) -> Iterator[IntegrationEvent]:
        for follower in followers:
            if log in (None, follower.application):
                yield from follower.replay(projections.sources[follower.application], from_position)

    webhooks = Webhooks(projections.store, clock.now, replayed)
    feeds = (WebhookOrderFeed, WebhookStatementFeed)
    followers = register_feed(projections, organisation, orders, commissions, webhooks, feeds)
    return webhooks


def _commission_views(
    projections: ProjectionRunner, commissions: CommissionApplication
) -> CommissionViews:
    """The serving commission view and the brands' candidates; a read first lets the
    commission process accrue the orders paid, since the views fold the commission log."""
    return CommissionViews(
        projections,
        commissions,
        accrue_paid=partial(projections.process, CommissionProcess.name),
    )
