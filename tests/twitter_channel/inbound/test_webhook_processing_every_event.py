"""Every event of a webhook delivery is processed on its own: a malformed, unreadable or refused event is
recorded on the delivery and the others are kept, and a failed delivery can be processed again."""

from __future__ import annotations

import json

import pytest
from django.test import Client, TestCase

from inbox.models import Message
from tests.helpers import REFUSAL, REFUSED_TEXT, database_refuses_one_message, database_takes_every_message
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
from tests.xsandbox import BUSINESS_ID
from twitter_channel.inbound.deliveries import RETRY_BASE, deliveries_sweep
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries


# -- every event of a delivery --------------------------------------------------------------------


def test_a_malformed_event_is_recorded_and_the_good_one_kept(client: Client):
    # given a delivery with a good event and one without its sender
    account = account_for()
    bad = message(FIRST_ID + 4096, text="lost")
    del bad["message_create"]["sender_id"]

    # when
    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="kept"), bad]))

    # then
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.dm_events == 1
    assert delivery.messages_created == 1
    assert "direct_message_events[1].message_create.sender_id: missing" in delivery.detail
    assert thread(account) == ["kept"]


def test_every_event_of_a_delivery_is_stored(client: Client):
    account = account_for()
    events = [message(FIRST_ID + 4096 * i, text=f"part {i}", at_ms=T0_MS + i) for i in range(4)]

    delivery = deliver(client, aaa(direct_message_events=events))

    assert (delivery.dm_events, delivery.messages_created) == (4, 4)
    assert thread(account) == ["part 0", "part 1", "part 2", "part 3"]


def test_an_event_that_cannot_be_stored_fails_the_delivery_which_can_be_processed_again(client: Client):
    # given a database that refuses one event of two (a trigger)
    database_refuses_one_message()
    account = account_for()
    payload = aaa(
        direct_message_events=[
            message(FIRST_ID, text=REFUSED_TEXT),
            message(FIRST_ID + 4096, text="two", at_ms=T0_MS + 1),
        ]
    )

    # when
    delivery = deliver(client, payload)

    # then the other is stored, and the delivery says what was not
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert f"event {FIRST_ID}: ProgrammingError: {REFUSAL}" in delivery.detail
    assert thread(account) == ["two"]

    # when the sweeper tries it again once the database takes it
    database_takes_every_message()
    with TestCase.captureOnCommitCallbacks(execute=True):
        deliveries_sweep(now=delivery.processed_at + RETRY_BASE)  # the sweeper's first retry is due
    again = WebhookDelivery.objects.get(pk=delivery.pk)

    # then both are there, once each
    assert again.status == WebhookDelivery.Status.PROCESSED
    assert (again.attempts, again.messages_created) == (2, 1)
    assert thread(account) == [REFUSED_TEXT, "two"]


def test_a_body_the_parser_cannot_read_fails_and_is_kept_for_replay(client: Client):
    account_for()
    body = json.dumps({"for_user_id": BUSINESS_ID, "direct_message_events": {"not": "a list"}}).encode()

    delivery = deliver(client, body)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "direct_message_events: expected a list, got an object" in delivery.detail
    assert delivery.body.encode() == body
    assert Message.objects.count() == 0


def test_a_one_to_one_event_not_involving_the_account_is_not_stored(client: Client):
    account_for()
    stranger = message(FIRST_ID, text="not ours", sender="11", to="12")

    delivery = deliver(client, aaa(direct_message_events=[stranger]))

    assert Message.objects.count() == 0
    assert f"event {FIRST_ID}: conversation 11-12 is not" in delivery.detail


def test_an_event_the_database_refuses_does_not_lose_the_rest_of_the_delivery(client: Client):
    # given a database that refuses one particular message (a trigger), between two good ones
    database_refuses_one_message()
    account = account_for()
    events = [
        message(FIRST_ID, text="before", at_ms=T0_MS),
        message(FIRST_ID + 4096, text=REFUSED_TEXT, at_ms=T0_MS + 1),
        message(FIRST_ID + 8192, text="after", at_ms=T0_MS + 2),
    ]

    # when
    delivery = deliver(client, aaa(direct_message_events=events))

    # then the endpoint answered 200 (deliver checks it), the others are stored, the failure is on record
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert f"event {FIRST_ID + 4096}: ProgrammingError" in delivery.detail
    assert REFUSAL in delivery.detail
    assert thread(account) == ["before", "after"]
