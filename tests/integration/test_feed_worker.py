"""`guideledger worker` with a NATS URL runs the relay: killed with -9 in the middle of a
batch, the next worker re-sends it and the consumer sees each event once."""

from __future__ import annotations

import signal
import subprocess
import sys

from guideledger.composition import Ledger
from guideledger.feed.jetstream import FeedConfig
from guideledger.feed.relay import OrderFeed
from tests.feed import Consumer, RecordingPublisher, attach_feed, expected_event_ids
from tests.integration.test_projection_worker import wait_for
from tests.nats_server import consume, held
from tests.served import ROOT, environment
from tests.world import build_world, pay, place_order, receive

ORDERS = 300


def start_relay(ledger: Ledger, config: FeedConfig) -> subprocess.Popen[bytes]:
    env = {
        **environment(ledger),
        "GUIDELEDGER_NATS_URL": config.url,
        "GUIDELEDGER_NATS_STREAM": config.stream,
        "GUIDELEDGER_NATS_SUBJECT_PREFIX": config.subject_prefix,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "guideledger.api.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_worker_killed_mid_batch_re_sends_and_each_event_arrives_once(
    pg_ledger: Ledger, feed_config: FeedConfig
) -> None:
    world = build_world(pg_ledger)
    for sku_id in world.sku_ids:
        receive(pg_ledger, world.warehouse_id, sku_id, 10_000)
    for _ in range(ORDERS):
        pay(pg_ledger, place_order(pg_ledger, world).id)
    store = pg_ledger.projections.store
    attach_feed(pg_ledger, RecordingPublisher())  # here only to read the relay's position

    worker = start_relay(pg_ledger, feed_config)
    wait_for(lambda: held(feed_config) > 0, worker)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    sent_before_the_kill = held(feed_config)
    position_at_the_kill = store.position(OrderFeed.name)
    finished = start_relay(pg_ledger, feed_config)
    try:
        wait_for(lambda: pg_ledger.projections.caught_up(OrderFeed.name), finished)
    finally:
        finished.terminate()
        finished.wait(timeout=30)

    expected = expected_event_ids(pg_ledger)
    assert 0 < sent_before_the_kill < len(expected), "the kill landed mid-way"
    assert position_at_the_kill == 0, "the kill landed before the batch's position moved"
    consumer = Consumer()
    for message in consume(feed_config):
        consumer.receive(message.body, message.message_id)
    assert set(consumer.events) == expected
    assert consumer.copies == 0
