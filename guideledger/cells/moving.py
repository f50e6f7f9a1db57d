"""Moving a group's store to another cell while the service runs.

The target gets the store's tables as a ledger composed there makes them (and any table
the source made at run time, such as a commission view candidate's, as the source has
it). The events are copied in bulk (binary COPY) while the group keeps serving, then
caught up a few rounds: a round copies the rows below the source's horizon, where no
later commit can add one (the recorder's rule), so no row is passed by.

The target writes in short transactions (a statement each, the events in slices): its
server's readers wait for every transaction in flight, other groups' readers too.

Then a write pause for that group alone: one transaction on the source locks the
store's tables against writers (readers read on), copies the last events and every
other table whole, and checks that both sides hold the same rows (counts, and a digest
of each table with the events in log order). The target counts its transactions on
from the source's (the recorder's offset), so its new events come after the copied
ones. Triggers then refuse every write to the source, the source commits, and the
directory entry switches by compare-and-set. The writers that waited are refused
(`GroupMoving`, answered 503): sent again with their Idempotency-Key, they reach the
target, which holds whatever they recorded before the pause. A process that read the
placement less than `PLACEMENT_SECONDS` ago still reads the source, frozen as it
moved, and is refused its writes the same way.

The source stays, frozen, as a former store until an operator drops it. A move that
fails before the switch leaves the group where it was, writable, and nothing on the
target. A mover killed between freezing the source and switching the directory, or
that cannot tell whether the directory switched, leaves the group refusing writes and
the copy on the target: moving it again lifts the pause first (and is refused until
the copy is dropped, if the directory did not switch).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg import sql

from guideledger.cells.catalogue import (
    Connection,
    columns,
    connect,
    holds_rows,
    horizon,
    snapshot,
    table_ddl,
    table_names,
)
from guideledger.cells.cells import Cells
from guideledger.cells.directory import Cell, Directory, Placement, PlacementChanged
from guideledger.eventstore.recorder import ROWS_PER_TRANSACTION, set_xid_offset
from guideledger.kernel.errors import Conflict, DomainError, RuleViolated

MOVED_AWAY = "GLM01"
"""The SQLSTATE a moved group's former store refuses a write with."""
TRIGGER = "moved_away"
CATCH_UP_ROUNDS = 5
SLICE = 50_000  # events copied in one statement (and transaction) on the target
SMALL_DELTA = 1000  # events few enough to copy during the write pause
PAUSE_ATTEMPTS = 3
PAUSE_LOCK_TIMEOUT = "2s"  # writers give up on a lock after 5 s (and retry)
POSITIONS = "projection_positions"
STORE_SCHEMA = re.compile(r"group_[0-9a-f]{32}")

Progress = Callable[[str], None]


class GroupMoving(DomainError):
    """A write reached the store of a group moving, or moved, to another cell; nothing
    was recorded: send it again, with the same Idempotency-Key."""

    type = "group-moving"


class CannotMove(RuleViolated):
    type = "cannot-move"


class TargetOccupied(Conflict):
    type = "target-occupied"


class MoveUnderWay(Conflict):
    type = "move-under-way"


class CopyDiffers(Conflict):
    """The copy does not hold what the source holds; nothing moved."""

    type = "copy-differs"


class StoreInUse(Conflict):
    type = "store-in-use"


@dataclass(frozen=True)
class Tally:
    """A table's rows: how many, and a digest of them all (events in log order)."""

    rows: int
    digest: str


@dataclass(frozen=True)
class Moved:
    placement: Placement
    former_cell_id: str
    tables: dict[str, Tally]
    paused_seconds: float

    @property
    def digest(self) -> str:
        """One digest over every table's, as both sides hold them."""
        joined = "".join(f"{name}:{tally.digest};" for name, tally in sorted(self.tables.items()))
        return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()


def moved_away(error: BaseException) -> bool:
    """Whether the error, or one it was raised from, is a moved group's former store
    refusing a write."""
    seen: BaseException | None = error
    for _ in range(5):  # the library wraps the driver's error once or twice
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) == MOVED_AWAY:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def move_group(
    cells: Cells, group_id: UUID, to_cell_id: str, progress: Progress | None = None
) -> Moved:
    """Moves the group's store to the cell `to_cell_id`; `progress` hears each step."""
    directory = _directory(cells)
    placed = directory.placement(group_id)
    if placed is None:
        raise CannotMove(
            "the group lives in the home store, which cannot move: only a group placed on "
            "a cell moves"
        )
    if placed.cell_id == to_cell_id:
        raise CannotMove(f"the group is on cell {to_cell_id} already", field="to_cell_id")
    target = directory.cell(to_cell_id)
    source = directory.cell(placed.cell_id)
    return _Move(cells, directory, placed, source, target, progress or _quiet).run()


def drop_former_store(directory: Directory, cell_id: str, schema: str) -> None:
    """Drops a group's store that no placement points to (a moved group's former store,
    or what a failed move left) from the cell, and forgets it."""
    if not STORE_SCHEMA.fullmatch(schema):
        raise CannotMove(f"{schema!r} is not a group's store", field="schema")
    if any(p.schema == schema for p in directory.placements([cell_id])):
        raise StoreInUse(f"a group is placed in {schema} on cell {cell_id}: it is not former")
    with connect(directory.cell(cell_id)) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )
    directory.forget_former_store(cell_id, schema)


def _directory(cells: Cells) -> Directory:
    if cells.directory is None:
        raise CannotMove("this deployment has no cells")
    return cells.directory


def _quiet(_step: str) -> None:
    """No one follows the move."""


class _Move:
    def __init__(
        self,
        cells: Cells,
        directory: Directory,
        placed: Placement,
        source: Cell,
        target: Cell,
        say: Progress,
    ) -> None:
        self.cells, self.directory, self.placed = cells, directory, placed
        self.source, self.target, self.say = source, target, say
        self.schema = placed.schema
        self.tables: list[str] = []  # the events' tables first, then the positions
        self.events: set[str] = set()
        self.columns: dict[str, list[str]] = {}

    def run(self) -> Moved:
        with connect(self.source) as src, connect(self.target) as dst:
            self._hold_the_move(src)
            if _frozen(src, self.schema):
                _thaw(src, self.schema, table_names(src, self.schema))
                self.say("lifted the write pause an interrupted move had left on the source")
            self._refuse_occupied(dst)
            try:
                self._make_tables(src, dst)
                below = self._catch_up(src, dst, 0)
                tallies, paused = self._pause(src, dst, below)
            except BaseException:
                self._abandon(src, dst)
                raise
            moved = self._switch(src, dst)
        self.cells.forget_placement(self.placed.group_id)
        self.say(f"moved to cell {self.target.cell_id}; the directory names it")
        return Moved(moved, self.source.cell_id, tallies, paused)

    # --- before: refusals and the target's tables ------------------------------------------

    def _hold_the_move(self, src: Connection) -> None:
        """One mover per group: a session lock on the source, gone with the connection."""
        row = src.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"guideledger-move:{self.schema}",)
        ).fetchone()
        if not (row and row[0]):
            raise MoveUnderWay("another move of this group is under way")

    def _refuse_occupied(self, dst: Connection) -> None:
        for table in table_names(dst, self.schema):
            if holds_rows(dst, self.schema, table):
                raise TargetOccupied(
                    f"cell {self.target.cell_id} already holds {self.schema} with data (a "
                    f"former store?): drop it first (guideledger cells drop-former "
                    f"{self.target.cell_id} {self.schema})"
                )

    def _make_tables(self, src: Connection, dst: Connection) -> None:
        """The tables a ledger composed on the target makes, and those the source made at
        run time as the source has them; refused if any table differs between the two."""
        self.cells.open_store(self.target, self.schema).close()
        made = set(table_names(dst, self.schema))
        with dst.transaction():
            for table in table_names(src, self.schema):
                if table not in made:
                    for statement in table_ddl(src, self.schema, table):
                        dst.execute(statement)
        for table in table_names(src, self.schema):
            there, here = columns(src, self.schema, table), columns(dst, self.schema, table)
            if there != here:
                raise CannotMove(
                    f"the store's table {table} differs on the two cells ({there} / {here}): "
                    "run the same version on both"
                )
            self.columns[table] = [name for name, _type in here]
        self.events = {t for t, columns in self.columns.items() if "notification_id" in columns}
        self.tables = sorted(self.columns, key=lambda t: (t not in self.events, t != POSITIONS, t))
        self.say(f"made {len(self.tables)} tables on cell {self.target.cell_id}")

    # --- while the group serves: the events in bulk, then caught up ------------------------

    def _catch_up(self, src: Connection, dst: Connection, below: int) -> int:
        """Copies the events from position `below` up to the source's horizon, a few
        rounds until few are left; returns the position up to which all are copied."""
        for round_number in range(1, CATCH_UP_ROUNDS + 1):
            with snapshot(src):
                settled = horizon(src, self.schema)[0] * ROWS_PER_TRANSACTION
                copied = self._copy_events(src, dst, below, settled)
            below = settled
            self.say(f"round {round_number}: copied {copied} events")
            if copied <= SMALL_DELTA:
                break
        return below

    def _copy_events(self, src: Connection, dst: Connection, below: int, upto: int | None) -> int:
        """Copies the events from position `below` (up to `upto`), in slices."""
        copied = 0
        for table in sorted(self.events):
            start = below
            while True:
                condition = sql.SQL("notification_id >= {}").format(start)
                if upto is not None:
                    condition = sql.SQL("{} AND notification_id < {}").format(condition, upto)
                sliced = self._copy(src, dst, table, condition, sliced=True)
                copied += sliced
                if sliced < SLICE:
                    break
                start = self._highest(dst, table) + 1
        return copied

    def _highest(self, dst: Connection, table: str) -> int:
        row = dst.execute(
            sql.SQL("SELECT max(notification_id) FROM {}").format(
                sql.Identifier(self.schema, table)
            )
        ).fetchone()
        assert row is not None
        return int(row[0])

    def _copy(
        self,
        src: Connection,
        dst: Connection,
        table: str,
        condition: sql.Composable,
        sliced: bool = False,
    ) -> int:
        """Streams the table's rows that meet `condition` (the first `SLICE` in log order,
        if `sliced`) from the source to the target."""
        name = sql.Identifier(self.schema, table)
        listed = sql.SQL(", ").join(map(sql.Identifier, self.columns[table]))
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(listed, name, condition)
        if sliced:
            query = sql.SQL("{} ORDER BY notification_id LIMIT {}").format(query, SLICE)
        out = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
        into = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(name, listed)
        with dst.cursor() as writing, src.cursor() as reading:
            with reading.copy(out) as rows, writing.copy(into) as copy:
                for chunk in rows:
                    copy.write(chunk)
            return writing.rowcount

    # --- the write pause -----------------------------------------------------------------

    def _pause(
        self, src: Connection, dst: Connection, below: int
    ) -> tuple[dict[str, Tally], float]:
        for _attempt in range(PAUSE_ATTEMPTS):
            try:
                return self._paused(src, dst, below)
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                self.say("the group's writers held its tables too long; catching up again")
                below = self._catch_up(src, dst, below)
        raise CannotMove("the group's writers kept its tables busy; try the move again later")

    def _paused(
        self, src: Connection, dst: Connection, below: int
    ) -> tuple[dict[str, Tally], float]:
        """In one transaction on the source: locks its tables against writers, copies the
        rest, verifies, and freezes the source."""
        started = time.monotonic()
        self.say("pausing the group's writes")
        with snapshot(src):
            src.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(PAUSE_LOCK_TIMEOUT))
            tables = sql.SQL(", ").join(sql.Identifier(self.schema, t) for t in self.tables)
            src.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(tables))
            copied = self._copy_events(src, dst, below, None)
            self._copy_the_rest(src, dst)
            self._carry_the_offset(src, dst)
            tallies = self._verify(src, dst)
            self._freeze(src)
        paused = time.monotonic() - started
        self.say(f"copied the last {copied} events and the read models; verified")
        return tallies, paused

    def _copy_the_rest(self, src: Connection, dst: Connection) -> None:
        """Every table but the events' whole: the read models move with their positions."""
        rest = [t for t in self.tables if t not in self.events]
        names = sql.SQL(", ").join(sql.Identifier(self.schema, t) for t in rest)
        dst.execute(sql.SQL("TRUNCATE {}").format(names))
        for table in rest:
            self._copy(src, dst, table, sql.SQL("true"))

    def _carry_the_offset(self, src: Connection, dst: Connection) -> None:
        """The target's transactions count on from the source's: ids it gives from now on
        come after every copied one, and its readers' horizon is past them already."""
        following = horizon(src, self.schema)[1]
        row = dst.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
        assert row is not None
        dst.execute(set_xid_offset(self.schema, max(0, following - row[0])))

    def _verify(self, src: Connection, dst: Connection) -> dict[str, Tally]:
        tallies: dict[str, Tally] = {}
        for table in self.tables:
            there, here = self._tally(src, table), self._tally(dst, table)
            if there != here:
                raise CopyDiffers(
                    f"{table}: the source holds {there.rows} rows ({there.digest}), the copy "
                    f"{here.rows} ({here.digest}); nothing moved"
                )
            tallies[table] = here
        return tallies

    def _tally(self, connection: Connection, table: str) -> Tally:
        order = sql.SQL("notification_id" if table in self.events else "md5(t::text)")
        row = connection.execute(
            sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY {})), '')"
                " FROM {} AS t"
            ).format(order, sql.Identifier(self.schema, table))
        ).fetchone()
        assert row is not None
        return Tally(int(row[0]), str(row[1]))

    def _freeze(self, src: Connection) -> None:
        """Every write to the source refused from its commit on, naming the target."""
        refusal = sql.Identifier(self.schema, TRIGGER)
        src.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " RAISE EXCEPTION USING ERRCODE = {}, MESSAGE = format("
                "'the group moved to cell %s: send the request again', TG_ARGV[0]); END $$"
            ).format(refusal, MOVED_AWAY)
        )
        for table in table_names(src, self.schema):
            src.execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE INSERT OR UPDATE OR DELETE ON {}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION {}({})"
                ).format(
                    sql.Identifier(TRIGGER),
                    sql.Identifier(self.schema, table),
                    refusal,
                    self.target.cell_id,
                )
            )

    # --- the switch, or back to where it was ---------------------------------------------

    def _switch(self, src: Connection, dst: Connection) -> Placement:
        """The directory entry switched; if it surely did not, the move undone. If the
        directory cannot say, the group stays frozen and its copy kept (see above)."""
        try:
            return self.directory.switch(self.placed, self.target.cell_id)
        except PlacementChanged:
            self._abandon(src, dst)
            raise
        except BaseException:
            now = self.directory.placement(self.placed.group_id)
            if now is not None and now.cell_id == self.target.cell_id:
                return now  # it switched, and only the answer was lost
            self._abandon(src, dst)
            raise

    def _abandon(self, src: Connection, dst: Connection) -> None:
        """The group back where it was, writable, and nothing of it on the target (which
        held no rows when the move began)."""
        try:
            _thaw(src, self.schema, table_names(src, self.schema))
            dst.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )
        except psycopg.Error as failure:  # the failure that stopped the move goes on
            self.say(
                f"could not undo the move ({failure}): drop what it left on cell "
                f"{self.target.cell_id}, then moving the group again lifts its pause"
            )
            return
        self.say("the move failed: the group stays where it was")


def _frozen(connection: Connection, schema: str) -> bool:
    row = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND t.tgname = %s)",
        (schema, TRIGGER),
    ).fetchone()
    return bool(row and row[0])


def _thaw(connection: Connection, schema: str, tables: list[str]) -> None:
    """The source's writes allowed again (a move that did not switch)."""
    with connection.transaction():
        for table in tables:
            connection.execute(
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                    sql.Identifier(TRIGGER), sql.Identifier(schema, table)
                )
            )
        connection.execute(
            sql.SQL("DROP FUNCTION IF EXISTS {}()").format(sql.Identifier(schema, TRIGGER))
        )
