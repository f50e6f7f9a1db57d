"""Process managers: policies that turn one context's facts into another's commands."""

from __future__ import annotations

from typing import Any

from application.orders import OrderApplication
from application.readmodels import Reactor
from domain.organisation import Guide


class GuideDepartures(Reactor):
    """A guide who leaves must not take their members into limbo: release the bindings."""

    name = "guide_departures"
    application = "organisation"
    handles = ((Guide, "Left"),)

    def __init__(self, orders: OrderApplication) -> None:
        self.orders = orders

    def react(self, event: Any) -> None:
        self.orders.release_bindings_of(event.originator_id, f"guide left: {event.reason}")
