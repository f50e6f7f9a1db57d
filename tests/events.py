"""The event classes of the applications, for tests that walk every one of them."""

from __future__ import annotations

import importlib
import pkgutil

from eventsourcing.domain import CanSnapshotAggregate, DomainEvent
from eventsourcing.utils import resolve_topic

import guideledger


def event_classes() -> list[type]:
    """Every event class of the applications (under its topic), snapshots aside."""
    for module in pkgutil.walk_packages(guideledger.__path__, "guideledger."):
        importlib.import_module(module.name)
    found: dict[str, type] = {}
    pending = list(DomainEvent.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        topic = f"{cls.__module__}:{cls.__qualname__}"
        if cls.__module__.startswith("guideledger.") and "<locals>" not in topic:
            found[topic] = resolve_topic(topic)
    return [cls for _, cls in sorted(found.items()) if not issubclass(cls, CanSnapshotAggregate)]
