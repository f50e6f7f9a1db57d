"""Publishes the feed to NATS JetStream, one acknowledged message at a time.

The relay is synchronous (it runs in the worker's catch-up thread); the client is
asyncio, so the publisher keeps an event loop of its own and runs each publication to
its acknowledgement on it. The message id is the event id: JetStream drops a re-sent
copy that arrives within the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from guideledger.feed.contract import IntegrationEvent

DUPLICATE_WINDOW_SECONDS = 7 * 24 * 3600.0  # longer than any relay stays down unnoticed
ACK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class FeedConfig:
    url: str
    stream: str = "GUIDELEDGER"
    subject_prefix: str = "guideledger"


class JetStreamPublisher:
    """Connects on first use, creates the stream if missing, and reconnects after a loss."""

    def __init__(self, config: FeedConfig) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None

    def publish(self, event: IntegrationEvent) -> None:
        with self._lock:
            self._loop.run_until_complete(self._publish(event))

    def close(self) -> None:
        with self._lock:
            if self._client is not None and not self._client.is_closed:
                self._loop.run_until_complete(self._client.close())
            self._loop.close()

    async def _publish(self, event: IntegrationEvent) -> None:
        jetstream = await self._connected()
        await jetstream.publish(
            event.subject(self.config.subject_prefix),
            event.body(),
            timeout=ACK_TIMEOUT_SECONDS,
            stream=self.config.stream,
            headers={"Nats-Msg-Id": event.event_id},
        )

    async def _connected(self) -> JetStreamContext:
        if self._client is not None and self._client.is_closed:
            self._client = self._jetstream = None
        if self._jetstream is None:
            self._client = await nats.connect(
                self.config.url,
                connect_timeout=2,
                max_reconnect_attempts=3,
                reconnect_time_wait=0.5,
            )
            self._jetstream = self._client.jetstream()
            await ensure_stream(self._jetstream, self.config)
        return self._jetstream


async def ensure_stream(jetstream: JetStreamContext, config: FeedConfig) -> None:
    """The feed's stream, created on first use with a generous duplicate window."""
    try:
        await jetstream.stream_info(config.stream)
    except NotFoundError:
        await jetstream.add_stream(
            StreamConfig(
                name=config.stream,
                subjects=[f"{config.subject_prefix}.>"],
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
        )
