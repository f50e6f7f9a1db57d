"""kill -9 a process while it applies read-model batches on real PostgreSQL, many times:
the read model ends equal to a clean rebuild, with no event lost or counted twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from guideledger.composition import Ledger
from guideledger.fulfilment.application.projections import STOCK_AVAILABILITY, StockAvailability
from guideledger.fulfilment.domain.stock import Stock
from guideledger.readmodels.runner import ProjectionRunner
from guideledger.readmodels.store import MemoryReadModelStore

NOW = datetime(2026, 11, 2, tzinfo=UTC)
POSITIONS, RECEIPTS = 40, 50  # 40 stock positions x 50 receipts: 2,040 events
KILLS = 6


def record_many_events(ledger: Ledger) -> None:
    brand_id = uuid4()
    stocks = [Stock.open(uuid4(), uuid4(), brand_id, NOW, "t") for _ in range(POSITIONS)]
    for n in range(RECEIPTS):
        for stock in stocks:
            stock.receive(n % 7 + 1, f"ASN-{n}", NOW, "t")
    ledger.orders.save(*stocks)


def rows(select: object) -> dict[object, tuple[int, int]]:
    found = select(STOCK_AVAILABILITY, {})  # type: ignore[operator]
    return {row["stock_id"]: (row["on_hand"], row["reserved"]) for row in found}


def worker(pg_ledger: Ledger) -> subprocess.Popen[str]:
    settings = pg_ledger.settings
    env = {
        **os.environ,
        "GUIDELEDGER_PERSISTENCE": "postgres",
        "GUIDELEDGER_DATABASE_URL": settings.database_conninfo,
        "GUIDELEDGER_POSTGRES_SCHEMA": settings.postgres_schema,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.catch_up_worker", StockAvailability.name, "20"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_killed_mid_batch_many_times_the_read_model_equals_a_clean_rebuild(
    pg_ledger: Ledger,
) -> None:
    record_many_events(pg_ledger)
    store = pg_ledger.projections.store
    rng = random.Random(7)
    seen_positions = set()
    for _kill in range(KILLS):
        process = worker(pg_ledger)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        try:
            process.wait(timeout=rng.uniform(0.01, 0.15))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        seen_positions.add(store.position(StockAvailability.name))
    finished = worker(pg_ledger)
    assert finished.wait(timeout=120) == 0

    clean = ProjectionRunner(MemoryReadModelStore())
    clean.add_source(pg_ledger.orders)
    clean.register(StockAvailability())
    clean.process_all()
    assert rows(store.select) == rows(clean.select)
    final = store.position(StockAvailability.name)
    assert any(0 < position < final for position in seen_positions), "no kill landed mid-way"
