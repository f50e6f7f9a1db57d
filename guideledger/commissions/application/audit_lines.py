"""How the settlement audit compares statements: stored lines against replayed ones
(and a correction's posting against the one recomputed).

First as digests, a few integers per statement however many lines it has, which add
up across parts of a replay run apart; then, for the statements whose digests differ,
line by line, so that every differing line is reported to the fen with its events.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b
from typing import Protocol
from uuid import UUID

from guideledger.commissions.domain.rules import Posting

StatementKey = tuple[str, str]  # (payee, period)
Digest = tuple[int, int, int]  # a statement's lines: count, total, sum of line hashes
NO_LINES: Digest = (0, 0, 0)
EventRef = str | tuple[UUID, int]
"""An event: its id (`<aggregate id>:<version>`), or its aggregate's id and its version,
made into its id only if it is reported (most lines match and are never reported)."""


def event_id(event: EventRef) -> str:
    return event if isinstance(event, str) else f"{event[0]}:{event[1]}"


def correction_mismatches(
    stored: Posting, again: Posting | None, events: tuple[EventRef, ...]
) -> list[Mismatch]:
    """Each account a stored correction moved otherwise than the recomputed one (None: the
    accrual, computed again, needed none), as owed to its owner."""
    kept = {e.account: -e.amount_fen for e in stored.entries}
    computed = {e.account: -e.amount_fen for e in again.entries} if again else {}
    what = f"correction on order {stored.order_id}"
    return [
        Mismatch(
            account.owner,
            stored.period,
            f"{what} ({account.bucket_name})",
            kept.get(account, 0),
            computed.get(account, 0),
            tuple(map(event_id, events)),
        )
        for account in sorted(kept.keys() | computed.keys())
        if kept.get(account, 0) != computed.get(account, 0)
    ]


@dataclass(frozen=True)
class Mismatch:
    payee: str
    period: str
    what: str
    stored_fen: int
    replayed_fen: int
    event_ids: tuple[str, ...]


@dataclass
class Line:
    amount_fen: int
    events: tuple[EventRef, ...]


class Lines(Protocol):
    """Where a replay puts the audited statements' lines, stored and replayed."""

    def stored(self, key: StatementKey, posting_id: str, line: Line) -> None: ...

    def replayed(self, key: StatementKey, posting_id: str, line: Line) -> None: ...


class StatementDigests:
    """Per audited statement, what its lines add up to on each side.

    A digest is the lines' count, total and the sum of their (posting id, amount)
    hashes: equal digests mean equal lines, whatever order they arrived in, and a
    digest is a few integers however many lines the statement has.
    """

    def __init__(self) -> None:
        self.kept: dict[StatementKey, Digest] = {}
        self.again: dict[StatementKey, Digest] = {}

    def stored(self, key: StatementKey, posting_id: str, line: Line) -> None:
        self.kept[key] = plus(self.kept.get(key, NO_LINES), _digest(posting_id, line))

    def replayed(self, key: StatementKey, posting_id: str, line: Line) -> None:
        self.again[key] = plus(self.again.get(key, NO_LINES), _digest(posting_id, line))

    def add(self, stored: dict[StatementKey, Digest], replayed: dict[StatementKey, Digest]) -> None:
        """Adds the digests of a part of the replay."""
        for digests, more in ((self.kept, stored), (self.again, replayed)):
            for key, digest in more.items():
                digests[key] = plus(digests.get(key, NO_LINES), digest)

    @property
    def statements(self) -> set[StatementKey]:
        return self.kept.keys() | self.again.keys()

    def differing(self) -> set[StatementKey]:
        kept, again = self.kept, self.again
        return {
            key for key in self.statements if kept.get(key, NO_LINES) != again.get(key, NO_LINES)
        }


def _digest(posting_id: str, line: Line) -> Digest:
    """One line's digest. Its hash is the same in every process (unlike `hash`), so
    parts replayed apart add up; a zero line adds nothing, as line by line."""
    fen = line.amount_fen
    if not fen:
        return NO_LINES
    hashed = blake2b(f"{posting_id}/{fen}".encode(), digest_size=8).digest()
    return 1, fen, int.from_bytes(hashed)


def plus(digest: Digest, more: Digest) -> Digest:
    return digest[0] + more[0], digest[1] + more[1], (digest[2] + more[2]) % 2**64


class StatementLines:
    """The audited statements' lines, stored and replayed.

    A stored line and its replayed twin are compared as soon as both have been
    seen, then forgotten: memory holds the lines still waiting for their twin, not
    a month of lines.
    """

    def __init__(self) -> None:
        self.statements: set[StatementKey] = set()  # seen
        self.waiting: dict[tuple[str, str, str], tuple[Line | None, Line | None]] = {}
        self.differing: list[Mismatch] = []

    def stored(self, key: StatementKey, posting_id: str, line: Line) -> None:
        kept, again = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, _together(kept, line), again)

    def replayed(self, key: StatementKey, posting_id: str, line: Line) -> None:
        kept, again = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, kept, _together(again, line))

    def mismatches(self) -> list[Mismatch]:
        """Lines that differ, and lines that have no twin, in payee, period, line order."""
        alone = [_mismatch(key, kept, again) for key, (kept, again) in self.waiting.items()]
        found = [m for m in [*self.differing, *alone] if m is not None]
        return sorted(found, key=lambda m: (m.payee, m.period, m.what))

    def _pair(
        self, key: StatementKey, posting_id: str, kept: Line | None, again: Line | None
    ) -> None:
        self.statements.add(key)
        if kept is None or again is None:
            self.waiting[(*key, posting_id)] = (kept, again)
            return
        found = _mismatch((*key, posting_id), kept, again)
        if found is not None:
            self.differing.append(found)


def _together(earlier: Line | None, line: Line) -> Line:
    """Lines of one posting on one side add up: a line stored twice shows as twice the amount."""
    if earlier is None:
        return line
    return Line(earlier.amount_fen + line.amount_fen, earlier.events + line.events)


def _mismatch(
    line_key: tuple[str, str, str], kept: Line | None, again: Line | None
) -> Mismatch | None:
    payee, period, posting_id = line_key
    kept_fen = kept.amount_fen if kept else 0
    again_fen = again.amount_fen if again else 0
    if kept_fen == again_fen:
        return None
    events = (kept.events if kept else ()) + (again.events if again else ())
    ids = tuple(map(event_id, events))
    return Mismatch(payee, period, f"line {posting_id}", kept_fen, again_fen, ids)
