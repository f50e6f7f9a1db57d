"""The recorder without the table lock, on real PostgreSQL: many writer processes, some
of whose transactions roll back, while followers tail the log.

Every committed event reaches every follower exactly once, in one order that all
followers share; nothing from a rolled-back transaction ever does."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, ProgrammingError
from psycopg import sql
from pydantic import SecretStr

from bench.bulk_import import import_events
from guideledger.eventstore.recorder import (
    ROWS_PER_TRANSACTION,
    TransactionOrderRecorder,
    events_after,
    set_xid_offset,
)
from guideledger.platform.persistence import eventsourcing_env
from guideledger.platform.settings import Persistence, Settings

WRITERS = 8
TRANSACTIONS = 30  # per writer
Key = tuple[str, int, str]  # (aggregate id, version, tag of the transaction that wrote it)


class Tally(Aggregate):
    """Counts; every event carries the tag of the transaction that tried to write it."""

    @event("Opened")
    def __init__(self, tag: str) -> None:
        self.tag = tag

    @event("Counted")
    def count(self, tag: str) -> None:
        self.tag = tag


class Tallies(Application[UUID]):
    name = "tallies"


class RolledBack(Exception):
    """Raised inside a transaction after its insert."""


def settings(url: str, schema: str) -> Settings:
    return Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(url),
        postgres_schema=schema,
        postgres_pool_size=2,
    )


def tallies(url: str, schema: str, *, create_table: bool = True) -> Tallies:
    env = eventsourcing_env(settings(url, schema), Tallies.name)
    return Tallies(env={**env, "CREATE_TABLE": "y" if create_table else "n"})


@dataclass
class Outcome:
    committed: list[Key] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)  # tags


def keys(aggregates: Sequence[Aggregate], tag: str) -> list[Key]:
    return [
        (str(e.originator_id), e.originator_version, tag)
        for a in aggregates
        for e in a.pending_events
    ]


def write(url: str, schema: str, number: int, hot_id: UUID, start: Any, results: Any) -> None:
    """One writer process: commits, conflicts (stale copies, and races on one hot
    aggregate with the other writers) and inserts rolled back by an exception."""
    try:
        app = tallies(url, schema, create_table=False)
        rng, outcome = random.Random(number), Outcome()
        start.wait()
        for n in range(TRANSACTIONS):
            tag = f"w{number}t{n}"
            saved = [Tally(tag) for _ in range(rng.randint(1, 3))]
            if n % 5 == 4:  # an insert, then an exception inside the transaction
                insert_then_roll_back(app, saved, tag)
                outcome.rolled_back.append(tag)
                continue
            if n % 5 == 3:  # a stale copy of an aggregate another transaction moved on
                mine = Tally(f"{tag}a")
                outcome.committed += keys([mine], f"{tag}a")
                app.save(mine)
                ahead, stale = app.repository.get(mine.id), app.repository.get(mine.id)
                ahead.count(f"{tag}b")
                outcome.committed += keys([ahead], f"{tag}b")
                app.save(ahead)
                stale.count(tag)
                saved.append(stale)
            elif n % 5 == 2:  # the hot aggregate, which every writer counts
                hot = app.repository.get(hot_id)
                hot.count(tag)
                saved.append(hot)
            attempted = keys(saved, tag)
            try:
                app.save(*saved)
            except IntegrityError:
                outcome.rolled_back.append(tag)
            else:
                outcome.committed += attempted
        app.close()
        results.put(outcome)
    except Exception as error:  # the parent reports it instead of waiting forever
        results.put(error)


def insert_then_roll_back(app: Tallies, aggregates: Sequence[Tally], tag: str) -> None:
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    stored = [app.mapper.to_stored_event(e) for a in aggregates for e in a.collect_events()]
    try:
        with recorder.datastore.transaction(commit=True) as cursor:
            recorder._insert_stored_events(cursor, stored)
            assert len(cursor.fetchall()) == len(stored)  # the rows are in, uncommitted
            raise RolledBack(tag)
    except RolledBack:
        pass


class Follower(threading.Thread):
    """Tails the log from its last position, a page at a time, until told the writers
    are done, then reads to the end."""

    def __init__(self, app: Tallies, page: int, writers_done: threading.Event) -> None:
        super().__init__()
        self.app, self.page, self.writers_done = app, page, writers_done
        self.seen: list[tuple[int, Key]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            position = 0
            while True:
                done = self.writers_done.is_set()  # before the read: it then sees them all
                batch = self.app.recorder.select_notifications(
                    start=position, limit=self.page, inclusive_of_start=False
                )
                self.seen += [(n.id, key(self.app, n)) for n in batch]
                position = batch[-1].id if batch else position
                if done and len(batch) < self.page:
                    return
        except BaseException as error:
            self.error = error


def key(app: Tallies, notification: Any) -> Key:
    domain_event: Any = app.mapper.to_domain_event(notification)
    return (str(notification.originator_id), notification.originator_version, domain_event.tag)


def test_followers_see_every_committed_event_once_in_one_order_and_nothing_rolled_back(
    postgres_url: str, postgres_schema: str
) -> None:
    app = tallies(postgres_url, postgres_schema)
    hot = Tally("hot")
    expected = set(keys([hot], "hot"))
    app.save(hot)
    writers_done = threading.Event()
    followers = [Follower(app, page, writers_done) for page in (3, 50)]
    for follower in followers:
        follower.start()

    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    writers = [
        context.Process(
            target=write, args=(postgres_url, postgres_schema, n, hot.id, start, results)
        )
        for n in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    start.set()
    outcomes = [results.get(timeout=300) for _ in writers]
    for writer in writers:
        writer.join()
    writers_done.set()
    for follower in followers:
        follower.join()

    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    for follower in followers:
        assert follower.error is None, follower.error
    for outcome in outcomes:
        expected.update(outcome.committed)
    rolled_back = {tag for outcome in outcomes for tag in outcome.rolled_back}
    assert len(rolled_back) >= WRITERS * TRANSACTIONS // 5 * 2  # the doomed and the stale

    everything = app.recorder.select_notifications(start=None, limit=1_000_000)
    final = [(n.id, key(app, n)) for n in everything]
    for follower in followers:
        assert follower.seen == final  # the same events in the same order
    ids = [notification_id for notification_id, _ in final]
    assert ids == sorted(set(ids))
    seen = [k for _, k in final]
    assert len(seen) == len(set(seen))  # exactly once
    assert set(seen) == expected  # every committed event
    assert not {tag for _, _, tag in seen} & rolled_back  # nothing rolled back
    versions: dict[str, list[int]] = {}
    for aggregate_id, version, _ in seen:
        versions.setdefault(aggregate_id, []).append(version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())  # in version order
    app.close()


# --- one transaction committing after a later one -------------------------------------------


@pytest.fixture
def app(postgres_url: str, postgres_schema: str) -> Any:
    app = tallies(postgres_url, postgres_schema)
    yield app
    app.close()


def test_an_event_committed_after_a_later_transaction_is_not_passed_by(app: Tallies) -> None:
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    early, late = Tally("early"), Tally("late")
    with recorder.datastore.transaction(commit=True) as cursor:
        recorder._insert_stored_events(cursor, stored(app, early))  # an id before late's
        app.save(late)  # commits first
        recorder.SETTLE_SECONDS = 0  # read what has settled now, without waiting
        assert recorder.select_notifications(start=None, limit=10) == []
        assert recorder.max_notification_id() is None
    recorder.SETTLE_SECONDS = TransactionOrderRecorder.SETTLE_SECONDS
    tags = [key(app, n)[2] for n in recorder.select_notifications(start=None, limit=10)]
    assert tags == ["early", "late"]


def test_a_reader_waits_for_the_transactions_in_flight_when_it_is_called(app: Tallies) -> None:
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    inserted, end = threading.Event(), threading.Event()

    def in_flight() -> None:
        with recorder.datastore.transaction(commit=True) as cursor:
            recorder._insert_stored_events(cursor, stored(app, Tally("in flight")))
            inserted.set()
            end.wait()

    writer = threading.Thread(target=in_flight)
    writer.start()
    inserted.wait()
    app.save(Tally("mine"))
    pause = recorder._pause
    recorder._pause = lambda seconds: (end.set(), pause(seconds))  # the reader waited: end it
    try:
        read = recorder.select_notifications(start=None, limit=10)
        waited = end.is_set()
    finally:
        end.set()
        writer.join()
    assert waited
    assert sorted(key(app, n)[2] for n in read) == ["in flight", "mine"]


def test_a_rolled_back_transaction_holds_nothing_back_once_it_ends(app: Tallies) -> None:
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    insert_then_roll_back(app, [Tally("doomed")], "doomed")
    app.save(Tally("kept"))
    assert [key(app, n)[2] for n in recorder.select_notifications(None, 10)] == ["kept"]


def stored(app: Tallies, aggregate: Tally) -> list[Any]:
    return [app.mapper.to_stored_event(e) for e in aggregate.collect_events()]


def test_bulk_imported_events_take_their_place_in_the_log(app: Tallies) -> None:
    app.save(Tally("before"))
    import_events(app, [e for n in range(2) for e in Tally(f"bulk{n}").collect_events()])
    app.save(Tally("after"))
    read = app.recorder.select_notifications(start=None, limit=10)
    assert [key(app, n)[2] for n in read] == ["before", "bulk0", "bulk1", "after"]
    assert read[1].id % ROWS_PER_TRANSACTION == 0  # one transaction's first and second rows
    assert read[2].id == read[1].id + 1


# --- switching from the library's recorder ---------------------------------------------------


def library_tallies(url: str, schema: str) -> Tallies:
    env = eventsourcing_env(settings(url, schema), Tallies.name)
    del env["APPLICATION_RECORDER_TOPIC"]
    return Tallies(env=env)


def test_events_the_library_recorded_stay_readable_and_come_before_new_ones(
    postgres_url: str, postgres_schema: str
) -> None:
    before = library_tallies(postgres_url, postgres_schema)
    before.save(*[Tally(f"old{n}") for n in range(3)])
    old = before.recorder.select_notifications(start=None, limit=10)
    before.close()

    with ThreadPoolExecutor(4) as pool:  # processes switching together
        switched = list(pool.map(lambda _: tallies(postgres_url, postgres_schema), range(4)))
    app = switched[0]
    app.save(Tally("new"))

    everything = app.recorder.select_notifications(start=None, limit=10)
    assert [key(app, n)[2] for n in everything] == ["old0", "old1", "old2", "new"]
    assert [n.id for n in everything[:3]] == [n.id for n in old] == [1, 2, 3]
    after_old = app.recorder.select_notifications(
        start=old[-1].id, limit=10, inclusive_of_start=False
    )
    assert [key(app, n)[2] for n in after_old] == ["new"]
    assert app.recorder.max_notification_id() == everything[-1].id
    assert events_after(app.recorder) == 4
    assert events_after(app.recorder, old[-1].id) == 1
    for each in switched:
        each.close()


def test_a_writer_still_on_the_library_recorder_is_refused_after_the_switch(
    postgres_url: str, postgres_schema: str
) -> None:
    tallies(postgres_url, postgres_schema).close()
    left_behind = library_tallies(postgres_url, postgres_schema)
    with pytest.raises(IntegrityError):  # rather than an id in the past, passed by readers
        left_behind.save(Tally("late"))
    left_behind.close()


def test_a_table_holding_ids_above_the_servers_transactions_is_refused(
    postgres_url: str, postgres_schema: str
) -> None:
    app = tallies(postgres_url, postgres_schema)
    app.save(Tally("restored"))
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    with recorder.datastore.transaction(commit=True) as cursor:  # as from an older cluster
        cursor.execute(
            sql.SQL("UPDATE {} SET notification_id = %s").format(recorder.table), (2**62,)
        )
    app.close()
    with pytest.raises(ProgrammingError, match="advance its transaction ids"):
        tallies(postgres_url, postgres_schema)


def test_a_store_copied_from_a_server_further_on_writes_after_its_events(
    postgres_url: str, postgres_schema: str
) -> None:
    app = tallies(postgres_url, postgres_schema)
    app.save(Tally("copied"))
    recorder = app.recorder
    assert isinstance(recorder, TransactionOrderRecorder)
    ahead = 2**32  # the other server's transaction ids are this far on
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            sql.SQL("UPDATE {} SET notification_id = notification_id + %s").format(recorder.table),
            (ahead * ROWS_PER_TRANSACTION,),
        )
        cursor.execute(set_xid_offset(postgres_schema, ahead))
    app.close()
    app = tallies(postgres_url, postgres_schema)  # not refused: its ids come after them
    app.save(Tally("new"))
    copied = app.recorder.select_notifications(start=None, limit=10)
    assert [key(app, n)[2] for n in copied] == ["copied", "new"]
    after = app.recorder.select_notifications(
        start=copied[0].id, limit=10, inclusive_of_start=False
    )
    assert [key(app, n)[2] for n in after] == ["new"]
    app.close()
