"""Metrics (Prometheus) and structured JSON logs with a request id on every line."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

REQUESTS = Counter(
    "guideledger_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
LATENCY = Histogram(
    "guideledger_request_seconds", "HTTP request latency by route", ["method", "route"]
)
LOST_RACES = Counter(
    "guideledger_lost_races_total",
    "Commands whose save collided with a concurrent writer and were decided again",
    ["application"],
)
#: Methods counted under their own name; a client may send any token as a method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"
PROJECTION_LAG_EVENTS = Gauge(
    "guideledger_projection_lag_events", "Events a read model has yet to apply", ["projection"]
)
PROJECTION_LAG_SECONDS = Gauge(
    "guideledger_projection_lag_seconds",
    "Age of the oldest event a read model has yet to apply",
    ["projection"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Counts a request and its latency under its route's template (`UNMATCHED_ROUTE` when
    none matched), and a method not in METHODS as `other`: whatever clients send, the
    series stay as few as the routes."""
    if method not in METHODS:
        method = OTHER_METHOD
    _latency(method, route).observe(seconds)
    _requests(method, route, status).inc()


# The labelled series, looked up once per label set rather than on every request.
@lru_cache(maxsize=1024)
def _latency(method: str, route: str) -> Histogram:
    return LATENCY.labels(method, route)


@lru_cache(maxsize=1024)
def _requests(method: str, route: str, status: int) -> Counter:
    return REQUESTS.labels(method, route, str(status))


def count_lost_race(application: str) -> None:
    LOST_RACES.labels(application).inc()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON object per line on stderr, each with the request id it belongs to."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
