"""Draining stored deliveries: batches, drains side by side (one per conversation at a time), the sweeper's
retries and what it picks up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.factories import one_to_one_id
from tests.twitter_channel.inbound.webhook_deliveries import FIRST_ID, T0_MS, aaa, account_for, message
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.inbound import deliveries, delivery_processing
from twitter_channel.inbound.deliveries import MAX_ATTEMPTS, deliveries_drain, deliveries_sweep
from twitter_channel.models import WebhookDelivery, XAccount

pytestmark = pytest.mark.django_db

OTHER_CUSTOMER = "783214"


def thread(account: XAccount, customer: str = CUSTOMER_ID) -> list[str]:
    conversation = Conversation.objects.get(inbox=account.inbox, x_conversation_id=one_to_one_id(BUSINESS_ID, customer))
    return list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))


def stored(n: int, *, text: str = "m", received_at=None) -> WebhookDelivery:
    """A delivery as the endpoint stores it, without running anything."""
    body = aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"{text}{n}", at_ms=T0_MS + n)])
    return WebhookDelivery.objects.create(received_at=received_at or timezone.now(), body=json.dumps(body))


@contextmanager
def another_drain_holding(conversation: str) -> Iterator[Callable[[], None]]:
    """Another drain's transaction holds ``conversation``'s lock until the function given is called (or the end)."""
    holding, release = threading.Event(), threading.Event()

    def other_drain() -> None:
        try:
            with transaction.atomic():
                assert deliveries._conversations_lock({conversation}) == {conversation}
                holding.set()
                release.wait(30)
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


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "still not done"
        time.sleep(0.05)


def test_a_drain_takes_every_waiting_delivery_in_batches_oldest_first():
    account = account_for()
    for n in range(7):
        stored(n)

    result = deliveries_drain(batch_size=3)

    assert (result.deliveries, result.batches, result.deferred) == (7, 3, 0)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookDelivery.Status.PROCESSED}
    assert thread(account) == [f"m{n}" for n in range(7)]
    assert deliveries_drain().deliveries == 0


def test_one_delivery_that_raises_ends_failed_and_the_rest_of_its_batch_commits(monkeypatch):
    account_for()
    good, bad, also_good = stored(0), stored(1), stored(2)
    real = delivery_processing._read

    def read(delivery, accounts, careful=True):
        if delivery.pk == bad.pk:
            raise RuntimeError("a bug in processing")
        return real(delivery, accounts, careful)

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
def test_a_drain_leaves_a_conversation_another_drain_holds_takes_the_rest_and_then_waits_for_it():
    if connection.vendor != "postgresql":
        pytest.fail("Drains take turns per conversation with PostgreSQL advisory locks; run with DATABASE_URL set.")
    # given deliveries of two customers, and another drain working on the first one's conversation
    account = account_for()
    busy = [stored(n) for n in range(3)]
    free = [
        WebhookDelivery.objects.create(
            received_at=timezone.now(),
            body=json.dumps(
                aaa(direct_message_events=[message(FIRST_ID + (10 + n) * 4096, text=f"o{n}", sender=OTHER_CUSTOMER)])
            ),
        )
        for n in range(2)
    ]
    busy_conversation = f"{account.pk}:{one_to_one_id(BUSINESS_ID, CUSTOMER_ID)}"

    def statuses(rows: list[WebhookDelivery]) -> set[str]:
        return set(WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True))

    outcome: list[deliveries.DrainResult] = []
    with another_drain_holding(busy_conversation) as release:
        # when a drain runs meanwhile
        drain = threading.Thread(target=lambda: (outcome.append(deliveries_drain()), connection.close()))
        drain.start()

        # then it takes the other customer's deliveries at once and leaves the busy conversation's waiting
        eventually(lambda: statuses(free) == {WebhookDelivery.Status.PROCESSED})
        assert statuses(busy) == {WebhookDelivery.Status.RECEIVED}
        assert drain.is_alive()  # waiting for the other drain, not gone

        # and once the other drain commits, it takes them too, each once
        release()
        drain.join(30)
    assert outcome and outcome[0].deliveries == 5
    assert statuses(busy) == {WebhookDelivery.Status.PROCESSED}
    assert thread(account, CUSTOMER_ID) == ["m0", "m1", "m2"]
    assert WebhookDelivery.objects.get(pk=busy[0].pk).attempts == 1


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


# -- tasks run inline ---------------------------------------------------------------------------------


def receive_in_other_thread(n: int) -> None:
    """A webhook POST in the web process: stored, and (tasks inline) drained after commit."""
    try:
        body = aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"m{n}", at_ms=T0_MS + n)])
        deliveries.deliveries_receive(bodies=[json.dumps(body)])
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_run_inline_a_delivery_is_drained_at_once(settings):
    # given the quick start without Redis (tasks inline)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = account_for()

    # when a delivery arrives
    receive_in_other_thread(0)

    # then it was processed with the request
    assert thread(account) == ["m0"]
