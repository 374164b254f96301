"""The ingest in real Celery workers: their listeners (``inbound.listener``) woken by PostgreSQL's NOTIFY,
several drains at once across worker processes, and a worker killed in the middle of its batches.

The deliveries are stored by this process as the webhook stores them (``deliveries_receive``: INSERT and
NOTIFY in one transaction); the workers are real processes (``worker_processes``) on the test database.
"""

from __future__ import annotations

import json

import pytest

from tests.celery_worker import CeleryWorker
from tests.twitter_channel.inbound.drain_world import assert_ingested_exactly_once_in_x_order, bodies, dms
from tests.twitter_channel.inbound.webhook_deliveries import account_for
from tests.twitter_channel.worker_processes import Workers, workers_fixture  # noqa: F401
from twitter_channel.inbound.deliveries import deliveries_receive
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def not_inline(workers: Workers, settings) -> None:
    """This process stores and announces, as the web process does; it drains nothing itself. After
    ``workers``, which puts Celery's own setting back as it found it (read through these settings)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False


UNREADABLE = "{not json"
TOO_DEEP = '{"for_user_id": "1", "a": ' + "[" * 100 + "]" * 100 + "}"


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in WebhookDelivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_two_workers_ingest_shuffled_duplicated_dms_once_in_x_order_and_fail_hostile_bodies(workers: Workers):
    # given two worker processes of two processes each: four listeners
    account_for()
    first = workers.start("ingest-a", concurrency=2)
    workers.start("ingest-b", concurrency=2)
    world = dms(customers=30, per_customer=12, seed=11)
    incoming = bodies(world, seed=12, duplicates=40)
    hostile_at = {50: UNREADABLE, 200: TOO_DEEP}
    for at, body in sorted(hostile_at.items(), reverse=True):
        incoming.insert(at, body)

    # when the webhook stores them in bursts, as POSTs arrive together
    for start in range(0, len(incoming), 25):
        deliveries_receive(bodies=incoming[start : start + 25])

    # then the workers ingest every DM once, in X's order, summaries right; the hostile bodies end failed,
    # each with why, and held nothing back
    def done() -> None:
        assert statuses().get(WebhookDelivery.Status.RECEIVED, 0) == 0, statuses()

    first.eventually(done, seconds=120)
    failed = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
    assert sorted(failed.values_list("body", flat=True)) == sorted(hostile_at.values())
    assert all(detail.startswith("Not a delivery we can read: ") for detail in failed.values_list("detail", flat=True))
    failed.delete()
    assert_ingested_exactly_once_in_x_order(world)


def test_a_worker_killed_in_the_middle_of_its_batches_loses_nothing_and_stores_nothing_twice(workers: Workers):
    # given 1,500 DMs stored while no worker runs
    account_for()
    world = dms(customers=60, per_customer=25, seed=21)
    incoming = bodies(world, seed=22, duplicates=0)
    for start in range(0, len(incoming), 100):
        deliveries_receive(bodies=incoming[start : start + 100])

    # when a worker starts draining them and is killed (kill -9) part of the way
    worker = workers.start("ingest-killed", concurrency=2)

    def some_processed() -> int:
        processed = statuses().get(WebhookDelivery.Status.PROCESSED, 0)
        assert processed >= 100, processed
        return processed

    worker.eventually(some_processed, interval=0.02)
    workers.kill(worker)
    left = statuses().get(WebhookDelivery.Status.RECEIVED, 0)

    # then what it had not committed waits, untouched; and a worker that starts takes it all, once
    assert left > 0, "the worker finished before it was killed: nothing shows a batch cut short"
    replacement: CeleryWorker = workers.start("ingest-replacement", concurrency=2)

    def done() -> None:
        assert statuses() == {WebhookDelivery.Status.PROCESSED: len(incoming)}, statuses()

    replacement.eventually(done, seconds=120)
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}
    assert_ingested_exactly_once_in_x_order(world)
    assert json.loads(WebhookDelivery.objects.order_by("pk").first().body)["for_user_id"]
