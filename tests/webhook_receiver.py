"""A webhook receiver on loopback, as a tenant's system would run one: it checks each
delivery's signature and answers 401 to a forged one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from guideledger.feed.webhooks import verify


@dataclass
class Receiver:
    url: str
    secret: str = ""
    endpoint_id: str = ""
    failures_left: int = 0  # answer 503 to this many valid deliveries first
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)  # headers lower
    refused: int = 0


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        signed = verify(
            self.receiver.secret,
            self.headers.get("GuideLedger-Timestamp", ""),
            body,
            self.headers.get("GuideLedger-Signature", ""),
            datetime.now(UTC),
        )
        if not signed:
            self.receiver.refused += 1
            self._answer(401)
        elif self.receiver.failures_left:
            self.receiver.failures_left -= 1
            self._answer(503)
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.receiver.received.append((headers, body))
            self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    server.RequestHandlerClass = type("Handler", (_Handler,), {"receiver": receiver})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
