"""Webhooks: the feed for systems without NATS, per tenant, over HTTPS.

A group registers endpoints (a URL; the ledger makes the secret and shows it once). The
webhook followers queue a delivery per endpoint of the event's group, keyed by endpoint
and event id, so a re-run queues nothing twice; the dispatcher posts each endpoint's due
deliveries in the log's order, signed with HMAC-SHA256 over the timestamp and the body,
and after a failure retries that endpoint later (back-off doubling to six hours),
holding its later deliveries back so they arrive in order. The delivery log is readable
through the API and a replay queues an endpoint's events again from a log position.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from uuid import UUID, uuid4, uuid5

from guideledger.feed.contract import IntegrationEvent
from guideledger.kernel.errors import InvalidValue, NotFound
from guideledger.readmodels.model import Table, Upsert
from guideledger.readmodels.store import ReadModelStore

ENDPOINTS = Table(
    name="webhook_endpoints",
    key=("endpoint_id",),
    columns={
        "endpoint_id": "uuid",
        "group_id": "uuid",
        "url": "text",
        "secret": "text",
        "created_at": "timestamp",
    },
    indexes=(("group_id",),),
)
DELIVERIES = Table(
    name="webhook_deliveries",
    key=("delivery_id",),
    columns={
        "delivery_id": "uuid",
        "endpoint_id": "uuid",
        "event_id": "uuid",
        "event_type": "text",
        "log": "text",
        "position": "int",
        "body": "text",
        "status": "text",  # pending, delivered, failed (gave up; a replay queues it again)
        "attempts": "int",
        "next_attempt_at": "timestamp",
        "last_response": "text",
        "delivered_at": "timestamp",
    },
    indexes=(("endpoint_id", "status"),),
)
WRITES = "webhooks"  # a position that never moves: the store writes rows through `apply`
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
TIMEOUT_SECONDS = 10.0
SIGNATURE_TOLERANCE = timedelta(minutes=5)
LOOPBACK_HOSTS = {"localhost"}

log = logging.getLogger("guideledger.webhooks")

Replayer = Callable[[str | None, int], Iterable[IntegrationEvent]]
"""The feed's events of one log (None: both) from a position on, made again."""

Sender = Callable[[str, bytes, Mapping[str, str]], int]
"""Posts a body with headers to a URL; the response's status (raises OSError if none)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: datetime) -> bool:
    """What a receiver checks: the signature, and a timestamp close to now (no replays)."""
    try:
        sent = datetime.fromtimestamp(int(timestamp), now.tzinfo)
    except ValueError:
        return False
    fresh = abs(now - sent) <= SIGNATURE_TOLERANCE
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    request = urllib.request.Request(url, body, dict(headers), method="POST")  # noqa: S310 (https or loopback, checked on registration)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status: int = response.status
            return status
    except HTTPError as refused:
        return refused.code
    except URLError as unreachable:
        raise OSError(str(unreachable.reason)) from unreachable


def require_endpoint_url(url: str) -> str:
    """An HTTPS URL; plain HTTP only on loopback (a receiver on this machine)."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname or len(url) > 2000:
        raise InvalidValue("a webhook needs an https:// URL", field="url")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidValue("a webhook's URL must be https:// (http only on loopback)", field="url")
    return url


def _loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_HOSTS


class Webhooks:
    """The endpoints, the delivery queue and log, and the dispatcher, over one store."""

    def __init__(
        self,
        store: ReadModelStore,
        now: Callable[[], datetime],
        replayed: Replayer,
        send: Sender = post,
    ) -> None:
        self.store, self.now, self.replayed, self.send = store, now, replayed, send
        store.create_tables([ENDPOINTS, DELIVERIES])
        store.install_position(WRITES)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- endpoints ---------------------------------------------------------------------

    def register(self, group_id: UUID, url: str) -> dict[str, Any]:
        """A new endpoint with a secret of its own: the only answer that shows the secret."""
        endpoint = {
            "endpoint_id": uuid4(),
            "group_id": group_id,
            "url": require_endpoint_url(url),
            "secret": secrets.token_urlsafe(32),
            "created_at": self.now(),
        }
        self.store.insert_if_absent(ENDPOINTS, (endpoint["endpoint_id"],), _values(endpoint))
        return endpoint

    def endpoints(self, group_id: UUID) -> list[dict[str, Any]]:
        return self.store.select(ENDPOINTS, {"group_id": group_id}, order_by=("created_at",))

    def endpoint(self, group_id: UUID, endpoint_id: UUID) -> dict[str, Any]:
        """Another group's endpoint is not found, as if it did not exist."""
        rows = self.store.select(ENDPOINTS, {"endpoint_id": endpoint_id, "group_id": group_id})
        if not rows:
            raise NotFound("no such webhook", id=str(endpoint_id))
        return rows[0]

    def remove(self, group_id: UUID, endpoint_id: UUID) -> None:
        """The endpoint and its delivery log."""
        self.endpoint(group_id, endpoint_id)
        self.store.delete(ENDPOINTS, (endpoint_id,))
        for delivery in self.store.select(DELIVERIES, {"endpoint_id": endpoint_id}):
            self.store.delete(DELIVERIES, (delivery["delivery_id"],))

    # --- the queue -----------------------------------------------------------------------

    def publish(self, event: IntegrationEvent) -> None:
        """Queues the event for each endpoint of its group (the feed's publisher port)."""
        self.queue(event, self.endpoints(event.group_id), again=False)

    def queue(
        self, event: IntegrationEvent, endpoints: Iterable[Mapping[str, Any]], again: bool
    ) -> None:
        for endpoint in endpoints:
            delivery = self._delivery(event, endpoint["endpoint_id"])
            key = (delivery.pop("delivery_id"),)
            if again:
                self._write([Upsert(DELIVERIES, key, delivery)])
            else:
                self.store.insert_if_absent(DELIVERIES, key, delivery)

    def _delivery(self, event: IntegrationEvent, endpoint_id: UUID) -> dict[str, Any]:
        return {
            "delivery_id": uuid5(endpoint_id, event.event_id),
            "endpoint_id": endpoint_id,
            "event_id": UUID(event.event_id),
            "event_type": str(event.type),
            "log": event.position.log,
            "position": event.position.notification_id,
            "body": event.body().decode(),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": self.now(),
            "last_response": None,
            "delivered_at": None,
        }

    def replay(
        self, group_id: UUID, endpoint_id: UUID, from_position: int, log: str | None = None
    ) -> int:
        """Queues again, for one endpoint, every event of its group from `from_position` on
        (of one log, or of both); returns how many."""
        endpoint = self.endpoint(group_id, endpoint_id)
        queued = 0
        for event in self.replayed(log, from_position):
            if event.group_id == group_id:
                self.queue(event, [endpoint], again=True)
                queued += 1
        return queued

    def deliveries(
        self, endpoint_id: UUID, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        where: dict[str, Any] = {"endpoint_id": endpoint_id}
        if status is not None:
            where["status"] = status
        order = ("log", "position")
        return self.store.select(DELIVERIES, where, order, limit=limit, offset=offset)

    # --- the dispatcher ----------------------------------------------------------------

    def dispatch(self) -> int:
        """Posts every endpoint's due deliveries in order; returns how many arrived."""
        pending = self.store.select(DELIVERIES, {"status": PENDING}, ("log", "position"))
        if not pending:
            return 0
        by_endpoint: dict[UUID, list[dict[str, Any]]] = {}
        for delivery in pending:
            by_endpoint.setdefault(delivery["endpoint_id"], []).append(delivery)
        secrets_of = {
            row["endpoint_id"]: row
            for row in self.store.select(ENDPOINTS, {"endpoint_id": list(by_endpoint)})
        }
        delivered = 0
        for endpoint_id, queue in by_endpoint.items():
            endpoint = secrets_of.get(endpoint_id)
            if endpoint is not None:
                delivered += self._dispatch_to(endpoint, queue)
        return delivered

    def _dispatch_to(self, endpoint: Mapping[str, Any], queue: list[dict[str, Any]]) -> int:
        """In order, until one fails or is not yet due again (the rest wait behind it)."""
        done = 0
        for delivery in queue:
            if delivery["next_attempt_at"] > self.now() or not self._attempt(endpoint, delivery):
                break
            done += 1
        return done

    def _attempt(self, endpoint: Mapping[str, Any], delivery: dict[str, Any]) -> bool:
        body = delivery["body"].encode()
        timestamp = str(int(time.time()))  # the receiver's clock: wall time, as TLS
        headers = {
            "Content-Type": "application/json",
            "GuideLedger-Event-Id": str(delivery["event_id"]),
            "GuideLedger-Delivery-Id": str(delivery["delivery_id"]),
            "GuideLedger-Timestamp": timestamp,
            "GuideLedger-Signature": sign(endpoint["secret"], timestamp, body),
        }
        try:
            status = self.send(endpoint["url"], body, headers)
            response, arrived = str(status), 200 <= status < 300
        except OSError as unreachable:
            response, arrived = f"unreachable: {unreachable}"[:200], False
        self._write(
            [
                Upsert(
                    DELIVERIES,
                    (delivery["delivery_id"],),
                    self._outcome(delivery, response, arrived),
                )
            ]
        )
        return arrived

    def _outcome(self, delivery: Mapping[str, Any], response: str, arrived: bool) -> dict[str, Any]:
        attempts = delivery["attempts"] + 1
        if arrived:
            return {
                "status": DELIVERED,
                "attempts": attempts,
                "last_response": response,
                "delivered_at": self.now(),
            }
        wait = min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)
        return {
            "status": FAILED if attempts >= MAX_ATTEMPTS else PENDING,
            "attempts": attempts,
            "last_response": response,
            "next_attempt_at": self.now() + wait,
        }

    def run(
        self, stopping: threading.Event, leads: Callable[[], bool], interval: float = 1.0
    ) -> None:
        """Dispatches every `interval` seconds while this process leads the background work."""
        while not stopping.wait(interval):
            try:
                if leads():
                    self.dispatch()
            except Exception:
                log.exception("webhook dispatch failed; retrying")

    def start(self, leads: Callable[[], bool]) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(self._stopping, leads), name="webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_SECONDS + 5)

    def _write(self, changes: list[Upsert]) -> None:
        position = self.store.position(WRITES)
        applied = self.store.apply(WRITES, position, position, changes)
        assert applied, "the webhooks' position never moves"


def _values(endpoint: dict[str, Any]) -> dict[str, Any]:
    """An endpoint's row but its key, as the store takes it."""
    return {column: value for column, value in endpoint.items() if column != "endpoint_id"}
