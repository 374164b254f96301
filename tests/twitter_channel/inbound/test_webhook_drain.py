"""Draining stored deliveries: batches, one drain at a time, the sweeper's retries and what it picks up."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inbox.models import Message
from tests.twitter_channel.inbound.webhook_deliveries import FIRST_ID, T0_MS, aaa, account_for, message, thread
from twitter_channel.inbound import deliveries, delivery_processing
from twitter_channel.inbound.deliveries import MAX_ATTEMPTS, deliveries_drain, deliveries_sweep
from twitter_channel.models import WebhookDelivery
from twitter_channel.task_names import WEBHOOK_DELIVERIES_DRAIN, task

pytestmark = pytest.mark.django_db


def stored(n: int, *, text: str = "m", received_at=None) -> WebhookDelivery:
    """A delivery as the endpoint stores it, without running anything."""
    body = aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"{text}{n}", at_ms=T0_MS + n)])
    return WebhookDelivery.objects.create(received_at=received_at or timezone.now(), body=json.dumps(body))


@contextmanager
def another_drain_holding_the_lock() -> Iterator[Callable[[], None]]:
    """Another transaction holds the drain's advisory lock until the function given is called (or the end)."""
    holding, release = threading.Event(), threading.Event()

    def other_drain() -> None:
        try:
            with transaction.atomic():
                assert deliveries._drain_lock(wait=False)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_drain)
    other.start()
    try:
        assert holding.wait(10)
        yield release.set
    finally:
        release.set()
        other.join(10)


def test_a_drain_takes_every_waiting_delivery_in_batches_oldest_first():
    account = account_for()
    for n in range(7):
        stored(n)

    result = deliveries_drain(batch_size=3)

    assert (result.deliveries, result.batches, result.busy) == (7, 3, False)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookDelivery.Status.PROCESSED}
    assert thread(account) == [f"m{n}" for n in range(7)]
    assert deliveries_drain().deliveries == 0


def test_one_delivery_that_raises_ends_failed_and_the_rest_of_its_batch_commits(monkeypatch):
    account_for()
    good, bad, also_good = stored(0), stored(1), stored(2)
    real = delivery_processing._read

    def read(delivery, accounts):
        if delivery.pk == bad.pk:
            raise RuntimeError("a bug in processing")
        return real(delivery, accounts)

    monkeypatch.setattr(delivery_processing, "_read", read)

    deliveries_drain()

    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {
        good.pk: WebhookDelivery.Status.PROCESSED,
        bad.pk: WebhookDelivery.Status.FAILED,
        also_good.pk: WebhookDelivery.Status.PROCESSED,
    }
    bad.refresh_from_db()
    assert bad.detail == "Processing stopped: RuntimeError: a bug in processing"
    assert bad.attempts == 1
    assert Message.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_drain_that_finds_another_one_working_leaves_the_deliveries_to_it():
    if connection.vendor != "postgresql":
        pytest.fail("One drain at a time is a PostgreSQL advisory lock; run with DATABASE_URL set.")
    account_for()
    stored(0)

    with another_drain_holding_the_lock() as release:
        result = deliveries_drain()
        release()

    assert (result.busy, result.deliveries) == (True, 0)
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.RECEIVED
    assert deliveries_drain().deliveries == 1


def test_the_sweeper_retries_failed_deliveries_with_backoff_and_gives_up_after_the_last_attempt():
    account = account_for()
    now = timezone.now()
    due = stored(0)
    not_yet = stored(1)
    exhausted = stored(2)
    WebhookDelivery.objects.filter(pk=due.pk).update(
        status=WebhookDelivery.Status.FAILED, attempts=2, processed_at=now - timedelta(minutes=2)
    )
    WebhookDelivery.objects.filter(pk=not_yet.pk).update(
        status=WebhookDelivery.Status.FAILED, attempts=2, processed_at=now - timedelta(seconds=90)
    )
    WebhookDelivery.objects.filter(pk=exhausted.pk).update(
        status=WebhookDelivery.Status.FAILED, attempts=MAX_ATTEMPTS, processed_at=now - timedelta(days=1)
    )

    result = deliveries_sweep(now=now)

    assert (result.retried, result.drained) == (1, 1)
    due.refresh_from_db()
    assert (due.status, due.attempts) == (WebhookDelivery.Status.PROCESSED, 3)
    assert WebhookDelivery.objects.get(pk=not_yet.pk).status == WebhookDelivery.Status.FAILED
    assert WebhookDelivery.objects.get(pk=exhausted.pk).status == WebhookDelivery.Status.FAILED
    assert thread(account) == ["m0"]


def test_the_sweeper_drains_deliveries_whose_drain_was_lost_and_leaves_fresh_ones_to_theirs():
    account_for()
    now = timezone.now()
    forgotten = stored(0, received_at=now - timedelta(minutes=5))

    assert deliveries_sweep(now=now).drained == 1
    assert WebhookDelivery.objects.get(pk=forgotten.pk).status == WebhookDelivery.Status.PROCESSED

    fresh = stored(1, received_at=now - timedelta(seconds=5))
    assert deliveries_sweep(now=now).drained == 0
    assert WebhookDelivery.objects.get(pk=fresh.pk).status == WebhookDelivery.Status.RECEIVED


# -- a drain task lingering for more -------------------------------------------------------------


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch, settings) -> list[str]:
    """Drain tasks enqueued (recorded, not run); a clean drain key and nudge list on the test Redis."""
    if not settings.REDIS_URL:
        pytest.fail("Nudging a lingering drain needs Redis; run with REDIS_URL set.")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    enqueued: list[str] = []

    class Task:
        @staticmethod
        def delay() -> None:
            enqueued.append("drain")

    monkeypatch.setattr(task(WEBHOOK_DELIVERIES_DRAIN), "delay", Task.delay)
    deliveries._flags().delete(deliveries.DRAIN_QUEUED_KEY)
    deliveries._redis().delete(deliveries.DRAIN_NUDGE_KEY)
    yield enqueued
    deliveries._flags().delete(deliveries.DRAIN_QUEUED_KEY)
    deliveries._redis().delete(deliveries.DRAIN_NUDGE_KEY)


def receive_in_other_thread(n: int) -> None:
    """A webhook POST in the web process: stored, and the drain requested after commit."""
    try:
        body = aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"m{n}", at_ms=T0_MS + n)])
        deliveries.deliveries_receive(bodies=[json.dumps(body)])
        assert deliveries.drain_wake_flush(), "the drain's wake-up did not go through"
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_deliveries_arriving_while_a_drain_lingers_nudge_it_instead_of_enqueueing_tasks(broker):
    # given a drain task that was enqueued for a first delivery and is now working, lingering for more
    account = account_for()
    receive_in_other_thread(0)
    assert broker == ["drain"]
    outcome: list[deliveries.DrainResult] = []
    drain = threading.Thread(target=lambda: (outcome.append(deliveries_drain(linger=1.0)), connection.close()))
    drain.start()

    # when three more arrive, one by one, while it lingers
    for n in range(1, 4):
        threading.Event().wait(0.3)
        receive_in_other_thread(n)
    drain.join(15)

    # then it took them all, and no POST enqueued another task
    assert outcome and outcome[0].deliveries == 4
    assert broker == ["drain"]
    assert thread(account) == ["m0", "m1", "m2", "m3"]
    # and once it stopped lingering, the next delivery enqueues a drain again
    receive_in_other_thread(4)
    assert broker == ["drain", "drain"]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_only_nudged_a_drain_about_to_stop_is_still_taken(broker):
    # given the drain key held (a drain is working) and a delivery stored meanwhile, its nudge consumed
    account = account_for()
    assert deliveries._flags().add(deliveries.DRAIN_QUEUED_KEY, True, timeout=30)
    stored(0)

    # when the drain, which saw nothing waiting a moment ago, stops lingering
    result = deliveries_drain(linger=0)

    # then it looked once more after letting the key go
    assert result.deliveries == 1
    assert thread(account) == ["m0"]
    assert broker == []


@pytest.mark.django_db(transaction=True)
def test_a_lingering_drain_waits_for_a_sweep_holding_the_lock_instead_of_giving_up(broker):
    if connection.vendor != "postgresql":
        pytest.fail("One drain at a time is a PostgreSQL advisory lock; run with DATABASE_URL set.")
    account_for()
    stored(0)

    with another_drain_holding_the_lock() as release:  # a sweep's batch, done in half a second
        threading.Timer(0.5, release).start()
        result = deliveries_drain(linger=0.1)

    assert (result.busy, result.deliveries) == (False, 1)


@pytest.mark.django_db(transaction=True)
def test_run_inline_a_delivery_is_drained_at_once_even_with_a_key_a_killed_worker_left(settings):
    # given the quick start (tasks inline) and a drain key left behind by a worker killed while lingering
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = account_for()
    deliveries._flags().add(deliveries.DRAIN_QUEUED_KEY, True, timeout=30)
    try:
        # when a delivery arrives
        receive_in_other_thread(0)
    finally:
        deliveries._flags().delete(deliveries.DRAIN_QUEUED_KEY)

    # then it was processed with the request
    assert thread(account) == ["m0"]


@pytest.mark.django_db(transaction=True)
def test_a_wake_up_the_broker_refused_is_tried_again_until_a_drain_is_enqueued(monkeypatch, settings):
    # given a broker that refuses the first two drains (Redis restarting), and no drain queued
    settings.CELERY_TASK_ALWAYS_EAGER = False
    attempts: list[str] = []

    class Broker:
        @staticmethod
        def delay() -> None:
            attempts.append("drain")
            if len(attempts) <= 2:
                raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(task(WEBHOOK_DELIVERIES_DRAIN), "delay", Broker.delay)
    deliveries._flags().delete(deliveries.DRAIN_QUEUED_KEY)
    try:
        account = account_for()
        # when a delivery is stored
        receive_in_other_thread(0)

        # then the wake-up kept trying until the broker took a drain, and holds the drain key for it
        assert attempts == ["drain", "drain", "drain"]
        assert deliveries._flags().get(deliveries.DRAIN_QUEUED_KEY) is True
        assert deliveries_drain().deliveries == 1
        assert thread(account) == ["m0"]
    finally:
        deliveries._flags().delete(deliveries.DRAIN_QUEUED_KEY)
