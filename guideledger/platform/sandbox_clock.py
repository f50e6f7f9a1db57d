"""The sandbox clock: an instant kept beside the read models, moved only by hand.

With `GUIDELEDGER_CLOCK=manual` every process on a store (each server process, the
worker, each command of the command line) reads its time from one row, so that after a
move all of them act as of the new instant: the payment window, maturing, period closes
and bonuses follow it. The row lives in a table of its own, like the members' keys: no
read model's rebuild touches it, and no bounded context's log carries it.

`now` reads the row on every call, never from a cache: a move answered by one process is
seen by the next request to any other (one primary-key read, measured in the README).
Moves are numbered as a projection's position is, and `apply` moves that number by
compare-and-set: of two moves read from the same instant one wins and the other reads
again, so the clock never goes back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from guideledger.kernel.errors import Conflict, InvalidValue
from guideledger.kernel.values import require_utc
from guideledger.readmodels.model import Table, Upsert
from guideledger.readmodels.store import ReadModelStore

SANDBOX_CLOCK = Table(
    name="sandbox_clock", key=("clock",), columns={"clock": "text", "now": "timestamp"}
)
KEY = "sandbox"
MOVES = "sandbox-clock"  # the position numbering the clock's moves
MAX_MOVE_ATTEMPTS = 10


class ClockMovedBack(InvalidValue):
    type = "clock-moved-back"


class ClockNotManual(Conflict):
    type = "clock-not-manual"


class SandboxClock:
    def __init__(self, store: ReadModelStore, start: datetime) -> None:
        """The clock of `store`; one the store does not hold yet starts at `start` (the
        first process to start on the store sets it, the others read it)."""
        self.store = store
        store.create_tables([SANDBOX_CLOCK])
        store.install_position(MOVES)
        store.insert_if_absent(SANDBOX_CLOCK, (KEY,), {"now": require_utc(start).astimezone(UTC)})

    def now(self) -> datetime:
        [row] = self.store.select(SANDBOX_CLOCK, {"clock": KEY})
        moment: datetime = row["now"]
        return moment

    def move_to(self, moment: datetime) -> datetime:
        """Moves the clock to `moment` for every process on the store; an earlier instant
        than the current one is refused and nothing is written."""
        moment = require_utc(moment).astimezone(UTC)
        for _attempt in range(MAX_MOVE_ATTEMPTS):
            moves, [row] = self.store.rows_at_position(MOVES, SANDBOX_CLOCK, {"clock": KEY})
            if moment < row["now"]:
                raise ClockMovedBack(
                    "the sandbox clock only moves forward",
                    now=row["now"].isoformat(),
                    requested=moment.isoformat(),
                )
            if moment == row["now"]:
                return moment
            move = Upsert(SANDBOX_CLOCK, (KEY,), {"now": moment})
            if self.store.apply(MOVES, moves, moves + 1, [move]):
                return moment
        raise Conflict("the sandbox clock is being moved by others: try again")
