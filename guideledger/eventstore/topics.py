"""Topics of classes that moved to another module.

The library stores each event under its class's topic (`module:QualName`), and each
value object inside an event under its transcoding's name, made the same way. When a
class moves, events stored before the move name a module that no longer exists: each
moved class is registered here under its former module, so those events still decode
(the library resolves the former topic to the class), and projections and audits that
select events by topic select them under both topics.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic

_moved: list[tuple[str, type]] = []  # (former module, class now)


def register_moved(former_module: str, *classes: type) -> None:
    """Declares that `classes` (and the classes nested in them, such as an aggregate's
    events) were stored under `former_module` before they moved."""
    for cls in classes:
        if (former_module, cls) in _moved or cls.__module__ == former_module:
            continue
        register_topic(f"{former_module}:{cls.__qualname__}", cls)
        _moved.append((former_module, cls))


def former_topics(cls: type) -> list[str]:
    """The topics a class (or the class it is nested in) was stored under before it moved."""
    return [
        f"{former_module}:{cls.__qualname__}"
        for former_module, moved in _moved
        if cls.__module__ == moved.__module__ and _within(cls.__qualname__, moved.__qualname__)
    ]


def _within(qualname: str, outer: str) -> bool:
    return qualname == outer or qualname.startswith(f"{outer}.")


def topics_of(cls: type) -> list[str]:
    """The topic a class is stored under now, then those it was stored under before."""
    return [get_topic(cls), *former_topics(cls)]
