"""Process managers: policies that turn one context's facts into another's commands.

Each runs at least once per event (see `Reactor`), so every command it issues
is idempotent.
"""

from __future__ import annotations

from typing import Any

from guideledger.commissions.application.app import CommissionApplication
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.domain import Order
from guideledger.organisation.domain.structure import Guide
from guideledger.readmodels.model import Reactor


class GuideDepartures(Reactor):
    """A guide who leaves takes nothing into limbo: their members are released and
    they get a final statement."""

    name = "guide_departures"
    application = "organisation"
    handles = ((Guide, "Left"),)

    def __init__(self, orders: OrderApplication, commissions: CommissionApplication) -> None:
        self.orders = orders
        self.commissions = commissions

    def react(self, event: Any) -> None:
        self.orders.release_bindings_of(event.originator_id, f"guide left: {event.reason}")
        self.commissions.close_final(event.originator_id)


class CommissionProcess(Reactor):
    """Order facts that move commission: paid, delivered, returned, cancelled, corrected."""

    name = "commission_process"
    application = "orders"
    handles = tuple(
        (Order, name)
        for name in ("Paid", "Delivered", "ItemsReturned", "Cancelled", "AttributionCorrected")
    )

    def __init__(self, orders: OrderApplication, commissions: CommissionApplication) -> None:
        self.orders = orders
        self.commissions = commissions

    def react(self, event: Any) -> None:
        order = self.orders.get_order(event.originator_id)
        source = f"{order.id}:{event.originator_version}"
        match type(event).__name__:
            case "Paid":
                self.commissions.accrue(order, source)
            case "Delivered":
                self.commissions.record_delivery(order, source)
            case "ItemsReturned":
                self.commissions.reverse(order, source, everything=False)
            case "Cancelled":
                self.commissions.reverse(order, source, everything=True)
            case "AttributionCorrected":
                self.commissions.move_to_new_payees(order, source)
