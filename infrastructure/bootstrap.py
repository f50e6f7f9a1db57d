"""The composition root: picks the infrastructure from settings and wires the applications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from application.framework import Clock
from application.orders import OrderApplication
from application.organisation import OrganisationApplication
from infrastructure.clock import SystemClock
from infrastructure.persistence import ensure_postgres_schema, eventsourcing_env
from infrastructure.settings import Settings


@dataclass
class Ledger:
    """Everything a request handler or CLI command needs."""

    settings: Settings
    clock: Clock
    organisation: OrganisationApplication
    orders: OrderApplication

    def close(self) -> None:
        self.orders.close()
        self.organisation.close()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Ledger:
    settings = settings or Settings()
    clock = clock or SystemClock()
    ensure_postgres_schema(settings)
    organisation = OrganisationApplication(
        clock, env=eventsourcing_env(settings, OrganisationApplication.name)
    )
    orders = OrderApplication(
        clock,
        organisation,
        env=eventsourcing_env(settings, OrderApplication.name),
        payment_window=timedelta(minutes=settings.payment_window_minutes),
    )
    return Ledger(settings, clock, organisation, orders)
