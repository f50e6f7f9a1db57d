"""NATS with JetStream for the tests: the machine's server if one answers, else one
started from the installed binary (and stopped again)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.errors import NotFoundError

from guideledger.feed.jetstream import FeedConfig

MACHINE_NATS = ("127.0.0.1", 4222)


def answers(host: str, port: int) -> bool:
    with closing(socket.socket()) as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def binary() -> str:
    found = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(found).exists():
        raise RuntimeError("no nats-server on PATH or in /usr/sbin")
    return found


@dataclass
class NatsServer:
    url: str
    process: subprocess.Popen[str]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@contextmanager
def nats_server(store_dir: Path, port: int | None = None) -> Iterator[NatsServer]:
    """A JetStream server of the test's own on loopback, stopped when the block ends."""
    port = port or free_port()
    command = [binary(), "-js", "-sd", str(store_dir), "-a", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        _wait_until_ready(process)
        yield NatsServer(f"nats://127.0.0.1:{port}", process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_ready(process: subprocess.Popen[str]) -> None:
    """Reads the server's log until it says it is ready, then drains it in the background."""
    assert process.stderr is not None
    for line in process.stderr:
        if "Server is ready" in line:
            break
    else:
        raise RuntimeError(f"nats-server exited with {process.wait()}")
    stream = process.stderr
    threading.Thread(target=stream.read, daemon=True).start()


@contextmanager
def machine_or_own_nats(scratch: Path) -> Iterator[str]:
    url = os.environ.get("GUIDELEDGER_NATS_URL") or os.environ.get("NATS_URL")
    if url:
        yield url
    elif answers(*MACHINE_NATS):
        yield "nats://{}:{}".format(*MACHINE_NATS)
    else:
        with nats_server(scratch) as server:
            yield server.url


def unique_config(url: str) -> FeedConfig:
    """A stream and subjects of the test's own on a shared server."""
    tag = uuid.uuid4().hex[:12]
    return FeedConfig(url, stream=f"T_{tag}", subject_prefix=f"t{tag}")


def delete_stream(config: FeedConfig) -> None:
    async def delete() -> None:
        client = await nats.connect(config.url)
        try:
            await client.jetstream().delete_stream(config.stream)
        except NotFoundError:
            pass
        finally:
            await client.close()

    asyncio.run(delete())


@dataclass(frozen=True)
class Received:
    subject: str
    message_id: str
    body: bytes


def consume(config: FeedConfig) -> list[Received]:
    """Everything the stream holds, in its order, through a pull consumer."""

    async def read() -> list[Received]:
        client = await nats.connect(config.url)
        try:
            jetstream = client.jetstream()
            held = (await jetstream.stream_info(config.stream)).state.messages
            subscription = await jetstream.pull_subscribe(
                f"{config.subject_prefix}.>", stream=config.stream
            )
            received: list[Received] = []
            while len(received) < held:
                for message in await subscription.fetch(held - len(received), timeout=10):
                    headers = message.headers or {}
                    received.append(
                        Received(message.subject, headers.get("Nats-Msg-Id", ""), message.data)
                    )
                    await message.ack()
            return received
        finally:
            await client.close()

    return asyncio.run(read())


def held(config: FeedConfig) -> int:
    """How many messages the stream holds (0 before it exists)."""

    async def count() -> int:
        client = await nats.connect(config.url)
        try:
            messages: int = (await client.jetstream().stream_info(config.stream)).state.messages
            return messages
        except NotFoundError:
            return 0
        finally:
            await client.close()

    return asyncio.run(count())
