"""A throwaway PostgreSQL cluster from the installed binaries.

pytest-postgresql's executor would do this, but initdb refuses to run as root
and CI runs as root, so this drops to the `postgres` user when it must. Tests
that restart a database use one of these, never the shared server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port


def _bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL binaries (initdb) installed")


class Cluster:
    """A PostgreSQL cluster of our own, in a temporary folder."""

    def __init__(self, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self.bindir = _bindir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="guideledger-pg-"))
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self.datadir, self.port = self.root / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [*self.as_postgres, *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args)

    def create(self) -> None:
        initdb = str(self.bindir / "initdb")
        self._run(initdb, "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c max_connections={self.max_connections}"
        )
        self._pg_ctl("-o", options, "-w", "-l", str(self.root / "log"), "start")

    def stop(self) -> None:
        """Stops at once, as a crash or a lost server would."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def replica(self) -> Cluster:
        """A streaming replica of this cluster (`pg_basebackup -R`), started."""
        standby = Cluster(self.max_connections)
        basebackup = str(self.bindir / "pg_basebackup")
        standby._run(
            basebackup,
            "-d",
            self.url,
            "-D",
            str(standby.datadir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        standby.start()
        return standby

    def restart(self) -> None:
        """Stops at once, as a crash would, and starts again."""
        self._pg_ctl("-m", "immediate", "-w", "stop")
        self.start()

    def destroy(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_cluster(max_connections: int = 100) -> Iterator[Cluster]:
    """A fresh cluster, stopped and deleted afterwards."""
    cluster = Cluster(max_connections)
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()
