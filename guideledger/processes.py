"""Process managers: policies that turn one context's facts into another's commands.

Each runs at least once per event (see `ProcessManager`), so every command it issues
is idempotent.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from guideledger.attribution.application.bindings import Bindings
from guideledger.commissions.application.app import CommissionApplication
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.guides import Guide
from guideledger.readmodels.model import ProcessManager, on


class GuideDepartures(ProcessManager):
    """A guide who leaves takes nothing into limbo: their members are released and
    they get a final statement."""

    name = "guide_departures"
    application = "organisation"

    def __init__(self, bindings: Bindings, commissions: CommissionApplication) -> None:
        self.bindings = bindings
        self.commissions = commissions

    @on(Guide.Left)
    def left(self, event: Guide.Left) -> None:
        self.bindings.release_all_of(event.originator_id, f"guide left: {event.reason}")
        self.commissions.close_final(event.originator_id)


class CommissionProcess(ProcessManager):
    """Order facts that move commission: paid, delivered, returned, cancelled, corrected."""

    name = "commission_process"
    application = "orders"

    def __init__(self, commissions: CommissionApplication) -> None:
        self.commissions = commissions

    @on(Order.Paid)
    def paid(self, event: Order.Paid) -> None:
        self.commissions.accrue(event.originator_id, _source(event))

    @on(Order.Delivered)
    def delivered(self, event: Order.Delivered) -> None:
        self.commissions.record_delivery(event.originator_id, _source(event))

    @on(Order.ItemsReturned)
    def returned(self, event: Order.ItemsReturned) -> None:
        self.commissions.reverse(event.originator_id, _source(event), everything=False)

    @on(Order.Cancelled)
    def cancelled(self, event: Order.Cancelled) -> None:
        self.commissions.reverse(event.originator_id, _source(event), everything=True)

    @on(Order.AttributionCorrected)
    def corrected(self, event: Order.AttributionCorrected) -> None:
        self.commissions.move_to_new_payees(event.originator_id, _source(event))


def _source(event: Aggregate.Event) -> str:
    """The event's reference for the ledger's lines: the order and its version."""
    return f"{event.originator_id}:{event.originator_version}"
