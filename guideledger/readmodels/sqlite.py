"""Read models in a SQLite file: the embedded default."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guideledger.readmodels.sql import SQLReadModelStore


class SQLiteReadModelStore(SQLReadModelStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA busy_timeout=10000")
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.lock:
            cursor = self.connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.lock:
            yield self.connection.cursor()

    def close(self) -> None:
        self.connection.close()
