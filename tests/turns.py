"""Puts commands into one turn, in a known order, to test what a turn decides."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult

T = TypeVar("T")


class Watched:
    """A container telling the test when items have been appended to it."""

    changed: threading.Condition

    def append(self, item: Any) -> None:
        with self.changed:
            super().append(item)  # type: ignore[misc]
            self.changed.notify_all()

    def wait_for(self, length: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self) >= length, timeout=5)  # type: ignore[arg-type]


class WatchedList(Watched, list[Any]):
    """The turns' waiting list."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()


def in_one_turn(
    application: LedgerApplication,
    keys: Iterable[Hashable],
    commands: Sequence[Callable[[], T]],
) -> list[T | Exception]:
    """Holds a turn on `keys` while the commands queue behind it, one after another, then
    lets them run: the next turn takes all those naming only those keys. Returns each
    command's outcome, or the error that refused it."""
    turn_keys = list(keys)
    waiting = WatchedList()
    application.turns._waiting = waiting
    holding, release = threading.Event(), threading.Event()
    outcomes: list[T | Exception | None] = [None] * len(commands)

    def hold() -> tuple[list[Aggregate], CommandResult]:
        holding.set()
        assert release.wait(5)
        return [], CommandResult(UUID(int=0), 0)

    def run(n: int) -> None:
        try:
            outcomes[n] = commands[n]()
        except Exception as refusal:
            outcomes[n] = refusal

    holder = threading.Thread(
        target=application.execute,
        args=(Command("test:holder"), hold),
        kwargs={"turn_keys": turn_keys},
    )
    holder.start()
    assert holding.wait(5)
    threads = []
    for n in range(len(commands)):
        threads.append(threading.Thread(target=run, args=(n,)))
        threads[-1].start()
        waiting.wait_for(n + 1)
    release.set()
    for thread in [holder, *threads]:
        thread.join(10)
        assert not thread.is_alive()
    application.turns._waiting = []
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]
