"""The composition root: picks the infrastructure from settings and wires the applications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from application.audit import SettlementAudit
from application.commission_view import CommissionView
from application.commissions import CommissionApplication
from application.directory import UnitDirectory
from application.engagement import EngagementApplication
from application.framework import Clock
from application.ledger_views import CommissionsDue, LedgerBalances, SettlementPeriods
from application.orders import OrderApplication
from application.organisation import OrganisationApplication
from application.processes import CommissionProcess, GuideDepartures
from application.projections import (
    NodeDailyLoads,
    NodeDirectory,
    StockAvailability,
    UnpaidOrders,
    UnroutableQueue,
)
from application.rankings import Rankings
from application.sales_views import DailyEngagement, DailySales, GuideDirectory, MemberBindings
from domain.commission import CommissionPolicy
from domain.orders import Order
from domain.organisation import Brand
from infrastructure.audit_parts import replay_parts
from infrastructure.bulk import aggregate_log, events_up_to
from infrastructure.clock import SystemClock
from infrastructure.observability import count_lost_race
from infrastructure.persistence import eventsourcing_env, setup_turn
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.read_model_versions import CommissionViewVersions
from infrastructure.readmodel_store import (
    MemoryReadModelStore,
    PostgresReadModelStore,
    ReadModelStore,
    SQLiteReadModelStore,
)
from infrastructure.settings import Persistence, Settings
from infrastructure.vault import KeyVault


@dataclass
class Ledger:
    """Everything a request handler or CLI command needs."""

    settings: Settings
    clock: Clock
    organisation: OrganisationApplication
    orders: OrderApplication
    engagement: EngagementApplication
    commissions: CommissionApplication
    projections: ProjectionRunner
    rankings: Rankings
    commission_views: CommissionViewVersions

    def settlement_audit(self) -> SettlementAudit:
        """Finance's replay of the commission ledger, reading orders in batches; a big
        log is replayed in parts by several processes."""
        logged = self.commissions.recorder.max_notification_id() or 0
        return SettlementAudit(
            self.commissions,
            aggregate_log(self.commissions),
            events_up_to(self.orders),
            parts=replay_parts(self.settings, logged),
        )

    def close(self) -> None:
        self.projections.stop()
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
    assert settings.database_url is not None
    return PostgresReadModelStore(
        settings.database_url, settings.postgres_schema, settings.postgres_pool_size
    )


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Ledger:
    settings = settings or Settings()
    with setup_turn(settings):
        return _compose(settings, clock or SystemClock())


def _compose(settings: Settings, clock: Clock) -> Ledger:
    projections = ProjectionRunner(read_model_store(settings))
    vault = KeyVault(projections.store)
    organisation = OrganisationApplication(
        clock, vault, env=eventsourcing_env(settings, OrganisationApplication.name)
    )
    orders = OrderApplication(
        clock,
        organisation,
        projections,
        env=eventsourcing_env(settings, OrderApplication.name),
        payment_window=timedelta(minutes=settings.payment_window_minutes),
    )
    engagement = EngagementApplication(
        clock, organisation, env=eventsourcing_env(settings, EngagementApplication.name)
    )

    commissions = CommissionApplication(
        clock,
        organisation,
        orders,
        projections,
        env=eventsourcing_env(settings, CommissionApplication.name),
    )
    orders.period_gate = commissions

    def time_zone_of(brand_id: UUID) -> str:
        return organisation.fact(Brand, brand_id, "brand_id").time_zone

    for application in (organisation, orders, engagement, commissions):
        projections.add_source(application)
    for projection in (
        StockAvailability(),
        NodeDailyLoads(),
        NodeDirectory(),
        UnitDirectory(),
        UnroutableQueue(),
        UnpaidOrders(),
        GuideDirectory(),
        MemberBindings(),
        DailySales(time_zone_of),
        DailyEngagement(time_zone_of),
        LedgerBalances(),
        SettlementPeriods(),
        CommissionsDue(),
        GuideDepartures(orders, commissions),
        CommissionProcess(commissions),
    ):
        projections.register(projection)
    for application in (organisation, orders, engagement, commissions):
        application.on_lost_race = count_lost_race
    rankings = Rankings(projections, time_zone_of, clock.now)
    commission_views = CommissionViewVersions(
        projections, commissions, partial(commission_view, orders, commissions)
    )
    return Ledger(
        settings,
        clock,
        organisation,
        orders,
        engagement,
        commissions,
        projections,
        rankings,
        commission_views,
    )


def commission_view(
    orders: OrderApplication,
    commissions: CommissionApplication,
    version: int,
    rules_version: int | None,
) -> CommissionView:
    """Version `version` of the commission view, under each brand's published rules
    `rules_version` (or, if None or not published, the rules in force at payment)."""

    def rules_for(brand_id: UUID, paid_at: datetime) -> CommissionPolicy:
        if rules_version is None:
            return commissions.policy_in_force(brand_id, paid_at)
        return commissions.policy_version(brand_id, rules_version, paid_at)

    def order_at(order_id: UUID, version: int) -> Order:
        order: Order = orders.repository.get(order_id, version=version)
        return order

    return CommissionView(
        version, rules_version, rules_for, order_at, commissions.earned, commissions.period_of
    )
