"""Processing of stored webhook deliveries happens exactly once, in X's order: X's repeats, shuffled arrivals,
the echo of our own send, a delivery processed again, and two workers processing one delivery at once."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.factories import make_agent
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    T0_MS,
    aaa,
    account_for,
    consumer_secret,
    deliver,
    message,
    thread,
)
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.inbound import delivery_processing
from twitter_channel.inbound.deliveries import deliveries_drain
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries


# -- exactly once, in X's order -------------------------------------------------------------------


def test_the_same_delivery_posted_five_times_is_one_message(client: Client, published):
    # given
    account = account_for()
    payload = aaa(direct_message_events=[message(FIRST_ID, text="Where is my parcel?")])

    # when X delivers it five times (its retries, or a replay)
    rows = [deliver(client, payload) for _ in range(5)]

    # then
    assert [row.status for row in rows] == ["processed"] * 5
    assert [row.messages_created for row in rows] == [1, 0, 0, 0, 0]
    assert thread(account) == ["Where is my parcel?"]
    assert len(published.of("message.created")) == 1


def test_thirty_deliveries_in_shuffled_order_make_the_thread_in_x_order(client: Client):
    # given 30 messages, back and forth, one delivery each; two share a millisecond (X's ids break the tie)
    account = account_for()
    times = [T0_MS + 1000 * i for i in range(30)]
    times[11] = times[10]
    payloads = [
        aaa(
            direct_message_events=[
                message(FIRST_ID + 4096 * i, text=f"message {i}", at_ms=times[i])
                if i % 3
                else message(
                    FIRST_ID + 4096 * i, text=f"message {i}", at_ms=times[i], sender=BUSINESS_ID, to=CUSTOMER_ID
                )
            ]
        )
        for i in range(30)
    ]
    shuffled = payloads[:]
    random.Random(5).shuffle(shuffled)
    assert shuffled != payloads

    # when they arrive shuffled
    for payload in shuffled:
        deliver(client, payload)

    # then the thread is in X's order and the conversation shows the newest message
    assert thread(account) == [f"message {i}" for i in range(30)]
    conversation = Conversation.objects.get(inbox=account.inbox)
    assert conversation.last_message_preview == "message 29"
    assert conversation.needs_reply is True


def test_the_echo_of_our_own_send_is_confirmed_not_duplicated(client: Client, published):
    # given a customer's message, and our reply that X accepted (id 2002) but has not echoed yet
    account = account_for()
    deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="Hi")]))
    conversation = Conversation.objects.get(inbox=account.inbox)
    ours = Message.objects.create(
        conversation=conversation,
        x_event_id=str(FIRST_ID + 4096),
        direction=Message.Direction.OUTBOUND,
        sender_agent=make_agent(),
        text="Hello! How can we help?",
        occurred_at=timezone.now(),
        delivery_state=Message.DeliveryState.SENT,
    )
    published.clear()

    # when X echoes it by webhook
    echo = message(FIRST_ID + 4096, text="Hello! How can we help?", sender=BUSINESS_ID, to=CUSTOMER_ID, at_ms=T0_MS + 1)
    delivery = deliver(client, aaa(direct_message_events=[echo]))

    # then
    assert delivery.messages_created == 0
    assert thread(account) == ["Hi", "Hello! How can we help?"]
    ours.refresh_from_db()
    assert ours.x_confirmed_at is not None
    assert [data["message_id"] for data in published.of("message.updated")] == [ours.pk]


# -- safe to run twice ----------------------------------------------------------------------------


def test_draining_again_leaves_a_processed_delivery_alone(client: Client, published):
    account_for()
    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="once")]))
    published.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert deliveries_drain().deliveries == 0

    again = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (again.status, again.attempts, again.messages_created) == ("processed", 1, 1)
    assert again.processed_at == delivery.processed_at
    assert published.sent == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_at_once_ingest_a_delivery_once(monkeypatch: pytest.MonkeyPatch):
    if connection.vendor != "postgresql":
        pytest.fail("The drain lock is a PostgreSQL advisory lock; run with DATABASE_URL set.")
    # given a stored delivery, and an ingest slow enough for the two runs to overlap
    account_for()
    delivery = WebhookDelivery.objects.create(
        received_at=timezone.now(), body=json.dumps(aaa(direct_message_events=[message(FIRST_ID, text="x")]))
    )
    calls: list[int] = []
    real_ingest = delivery_processing.account_events_ingest

    def slow(**kwargs: Any) -> list:
        calls.append(1)
        time.sleep(0.5)
        return real_ingest(**kwargs)

    monkeypatch.setattr(delivery_processing, "account_events_ingest", slow)

    # when two workers drain at the same time
    def run() -> None:
        try:
            deliveries_drain()
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)

    # then one of them did the work and the other left it to it
    delivery.refresh_from_db()
    assert calls == [1]
    assert (delivery.status, delivery.attempts, delivery.messages_created) == ("processed", 1, 1)
    assert Message.objects.count() == 1
