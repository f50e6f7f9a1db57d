"""`guideledger serve` and `guideledger worker` in processes of their own, on a test's
PostgreSQL schema."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

from guideledger.composition import Ledger
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def environment(ledger: Ledger) -> dict[str, str]:
    """The settings of `ledger`, for a process of the service."""
    return {
        **os.environ,
        "GUIDELEDGER_PERSISTENCE": "postgres",
        "GUIDELEDGER_DATABASE_URL": ledger.settings.database_conninfo,
        "GUIDELEDGER_POSTGRES_SCHEMA": ledger.settings.postgres_schema,
    }


def start_worker(ledger: Ledger) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "guideledger.api.cli", "worker"],
        env=environment(ledger),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Service:
    """`guideledger serve` with `options`, on a free port."""

    def __init__(self, ledger: Ledger, *options: str) -> None:
        self.port = free_port()
        self.env = environment(ledger)
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()
        # What it says on stderr, for the report if it fails to start; closed by `stop`.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "guideledger.api.cli", "serve"),
                *("--port", str(self.port), *self.options),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        with httpx.Client() as probe:
            for _ in range(1200):  # a minute: its processes set up the schema in turn
                try:
                    if probe.get(f"{self.url}/health", timeout=1).status_code == 200:
                        self.up.set()
                        return
                except httpx.TransportError:
                    if self.process.poll() is not None:
                        break
                    self.up.wait(0.05)
        self.log.seek(0)
        said = self.log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"the service did not start; it said:\n{said}")

    def kill(self) -> None:
        assert self.process is not None
        self.up.clear()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()

    def children(self) -> dict[int, str]:
        """The service's child processes and their command lines."""
        assert self.process is not None
        found = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                found[int(pid)] = command.decode()
        return found

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
