"""The served API under load: `guideledger serve` in a process of its own, wrk posting
orders to it, and what wrk and the server's processes report."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import database_url
from bench.routing import two_line_order
from guideledger.api.demo import DemoWorld

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent
Row = tuple[str, float, str, float | None]  # figure, value, unit, baseline ratio


def order_body(world: DemoWorld, rng: random.Random, n: int) -> dict[str, Any]:
    """A two-line order as a frontend posts it, attributed by a guide's share link."""
    lines, destination = two_line_order(world, rng)
    guide_id, _ = world.guides[n % len(world.guides)]
    return {
        "brand_id": str(world.brand_id),
        "member_id": str(world.members[n % len(world.members)]),
        "lines": [
            {"sku_id": str(x.sku_id), "quantity": 1, "unit_price_fen": x.unit_price_fen}
            for x in lines
        ],
        "delivery": {
            "address": "bench",
            "location": {"latitude": destination.latitude, "longitude": destination.longitude},
        },
        "evidence": {"channel": "guide_share_link", "guide_id": str(guide_id)},
    }


class ServedApi:
    """`guideledger serve` in its own process on a free port."""

    def __init__(self, schema: str, workers: int = 1, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # What the server said, shown if it fails; closed on exit.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        environment = {
            **os.environ,
            "GUIDELEDGER_DATABASE_URL": database_url(),
            "GUIDELEDGER_POSTGRES_SCHEMA": schema,
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "guideledger.api.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def __enter__(self) -> ServedApi:
        self.url = url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)  # the server is starting: poll again
        self.log.seek(0)
        raise RuntimeError("the API did not start:\n" + self.log.read()[-3000:])

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def cpu_seconds(self) -> float:
        """User and system CPU of the served API's processes (the server, its workers)."""
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        tree, grew = {self.process.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        return sum(times.get(pid, 0.0) for pid in tree)


@dataclass(frozen=True)
class WrkFigures:
    rate: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


def wrk_command(
    api: ServedApi, token: str, bodies: str, connections: int, seconds: int, threads: int = 2
) -> list[str]:
    """wrk posting the orders of `bodies` (one JSON body per line) as `token`'s caller."""
    script = HERE / "wrk_orders.lua"
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"{api.url}/orders",
        "--",
        token,
        bodies,
    ]


def wrk_figures(out: str) -> WrkFigures:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _latency_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _latency_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(refused.group(1)) if refused else 0) + (
        sum(int(n) for n in socket.groups()) if socket else 0
    )
    return WrkFigures(rate, requests, p50, p99, errors)


def wrk_row(api: ServedApi, token: str, bodies: str, connections: int, seconds: int) -> Row:
    """One load level: orders/s, latency, errors and the server side's CPU per order."""
    cpu_before = api.cpu_seconds()
    command = wrk_command(api, token, bodies, connections, seconds)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = api.cpu_seconds() - cpu_before
    figures = wrk_figures(out)
    per_order = 1000 * cpu / max(figures.requests, 1)
    detail = (
        f"p50 {figures.p50_ms:.0f} ms, p99 {figures.p99_ms:.0f} ms, errors {figures.errors}, "
        f"server CPU {per_order:.1f} ms per order"
    )
    return (
        f"HTTP POST /orders, {connections} connections",
        figures.rate,
        f"orders/s; {detail}",
        None,
    )


def _latency_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
