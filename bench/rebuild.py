"""Projection rebuild on PostgreSQL: GuideLedger's batched runner against the
eventsourcing library's ProjectionRunner, on the same stored events, in one run.

`python -m bench.rebuild load --schema S --events N` writes N stock events (a bulk
path: many aggregates per save); `ours` and `library` each rebuild the stock
availability read model from event zero and print a JSON line: events, seconds,
events per second and the process's peak memory. `bench.suite` runs each part in
its own process so each peak belongs to one part.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier
from pydantic import SecretStr

from bench.common import database_url, peak_mb
from guideledger.fulfilment.application.projections import StockAvailability
from guideledger.fulfilment.domain.stock import Stock
from guideledger.platform.persistence import postgres_env
from guideledger.platform.settings import Persistence, Settings
from guideledger.readmodels.postgres import PostgresReadModelStore
from guideledger.readmodels.runner import ProjectionRunner as BatchedRunner

EVENTS_PER_POSITION = 100
POSITIONS_PER_SAVE = 50
AT = datetime(2026, 11, 1, tzinfo=UTC)
TOPICS = (get_topic(Stock.Opened), get_topic(Stock.Received))


class OrdersLog(Application[uuid.UUID]):
    """The orders application's event store, as the library's runner opens it."""

    name = "orders"


def env(schema: str) -> dict[str, str]:
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(database_url()),
        postgres_schema=schema,
    )
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres_env(settings)}


def load(schema: str, events: int) -> None:
    """Stock positions of one Opened and 99 Received events each, 50 positions per save."""
    log = OrdersLog(env=env(schema))
    brand, saved = uuid.uuid4(), 0
    while saved < events:
        batch = []
        for _ in range(POSITIONS_PER_SAVE):
            stock = Stock.open(uuid.uuid4(), uuid.uuid4(), brand, AT, "bench")
            for n in range(min(EVENTS_PER_POSITION, events - saved) - 1):
                stock.receive(1 + n % 7, f"asn-{n}", AT, "bench")
            saved += len(stock.pending_events)
            batch.append(stock)
            if saved >= events:
                break
        log.save(*batch)
    log.close()


def ours(schema: str) -> dict[str, Any]:
    store = PostgresReadModelStore(database_url(), schema, 4)
    runner = BatchedRunner(store, batch_size=5_000)
    log = OrdersLog(env=env(schema))
    runner.add_source(log)
    projection = StockAvailability()
    runner.register(projection)
    started = time.perf_counter()
    done = runner.process(projection.name)
    elapsed = time.perf_counter() - started
    log.close()
    store.close()
    return {"events": done, "seconds": elapsed, "rate": done / elapsed, "peak_mb": peak_mb()}


class LibraryStockView(PostgresTrackingRecorder):
    """On hand per stock position, with the library's tracking in the same transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = Identifier(self.datastore.schema, "library_stock")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (stock_id uuid PRIMARY KEY, on_hand bigint)"
            ).format(self.rows)
        )

    def add(self, stock_id: uuid.UUID, quantity: int, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "INSERT INTO {0} (stock_id, on_hand) VALUES (%s, %s) ON CONFLICT (stock_id) "
                    "DO UPDATE SET on_hand = {0}.on_hand + excluded.on_hand"
                ).format(self.rows),
                (stock_id, quantity),
            )
            self._insert_tracking(cursor, tracking)


class LibraryStockProjection(Projection[LibraryStockView]):
    name = "library_stock"
    topics = TOPICS

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.add(domain_event.originator_id, getattr(domain_event, "quantity", 0), tracking)


def library(schema: str) -> dict[str, Any]:
    log = OrdersLog(env=env(schema))
    events = log.recorder.max_notification_id() or 0  # every stored event is a stock event
    log.close()
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=OrdersLog,
        projection_class=LibraryStockProjection,
        view_class=LibraryStockView,
        env=env(schema),
    ) as runner:
        runner.wait(events, timeout=3_600)
    elapsed = time.perf_counter() - started
    return {"events": events, "seconds": elapsed, "rate": events / elapsed, "peak_mb": peak_mb()}


def main() -> None:
    part, schema = sys.argv[1], sys.argv[2]
    if part == "load":
        load(schema, int(sys.argv[3]))
        print(json.dumps({"loaded": int(sys.argv[3]), "peak_mb": peak_mb()}))
    else:
        print(json.dumps({"ours": ours, "library": library}[part](schema)))


if __name__ == "__main__":
    main()
