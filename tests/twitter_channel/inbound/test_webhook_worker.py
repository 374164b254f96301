"""Webhook deliveries processed by a real Celery worker (a separate process, on Redis and the test database).

Everywhere else tasks run inline. Here the endpoint answers, the task goes through Redis, and a worker
process stores the messages and publishes through channels-redis to an agent's websocket in this process.
The tests look only at what comes out (messages, delivery statuses, websocket events), not at which
task the endpoint enqueues.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.test import Client

from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from tests.celery_worker import CeleryWorker
from tests.factories import make_agent, one_to_one_id
from tests.helpers import inbox_socket, next_event, session_cookie
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    SECRET,
    T0_MS,
    URL,
    aaa,
    account_for,
    consumer_secret,
    message,
)
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries

OTHER_CUSTOMER_ID = "783214"


def post_signed(client: Client, payload: dict[str, Any]) -> int:
    """POST one delivery signed as X signs it; return the id of the stored delivery."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    response = client.post(
        URL, data=body, content_type="application/json", headers={"x-twitter-webhooks-signature": signature}
    )
    assert response.status_code == 200, response.content
    return response.json()["delivery_id"]


def texts(customer_id: str) -> list[str]:
    conversation = Conversation.objects.get(x_conversation_id=one_to_one_id(BUSINESS_ID, customer_id))
    return list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))


def test_deliveries_are_stored_once_each_in_x_order_by_the_worker(client: Client, celery_worker: CeleryWorker):
    # given a connected account and four DMs, two from each of two customers
    account_for()
    first_a = aaa(direct_message_events=[message(FIRST_ID, text="My parcel has not arrived", at_ms=T0_MS)])
    first_b = aaa(
        direct_message_events=[
            message(FIRST_ID + 4096, text="Can I change my address?", at_ms=T0_MS + 1000, sender=OTHER_CUSTOMER_ID)
        ]
    )
    second_a = aaa(direct_message_events=[message(FIRST_ID + 8192, text="It was due Monday", at_ms=T0_MS + 2000)])
    second_b = aaa(
        direct_message_events=[
            message(FIRST_ID + 12288, text="To 5 Elm Street, please", at_ms=T0_MS + 3000, sender=OTHER_CUSTOMER_ID)
        ]
    )

    # when X delivers them out of order, and one of them twice
    ids = [post_signed(client, payload) for payload in (second_a, first_b, first_a, second_b, second_a)]

    # then every POST was answered (stored, not processed in the request), and the worker stores each message
    # once, in X's order
    assert len(set(ids)) == 5

    def all_processed() -> None:
        assert list(WebhookDelivery.objects.order_by("pk").values_list("pk", "status")) == [
            (pk, WebhookDelivery.Status.PROCESSED) for pk in ids
        ]

    def logged_by_the_worker() -> None:
        assert " succeeded in " in celery_worker.log()  # it ran the tasks (this process only enqueued them)

    celery_worker.eventually(all_processed)
    celery_worker.eventually(logged_by_the_worker)
    assert texts(CUSTOMER_ID) == ["My parcel has not arrived", "It was due Monday"]
    assert texts(OTHER_CUSTOMER_ID) == ["Can I change my address?", "To 5 Elm Street, please"]
    assert sorted(Message.objects.values_list("x_event_id", flat=True)) == [str(FIRST_ID + 4096 * n) for n in range(4)]


def member_of_connected_account() -> tuple[int, bytes]:
    """A connected account with an agent in its inbox; return the inbox id and the agent's session cookie."""
    account = account_for()
    agent = make_agent()
    inbox_member_add(inbox=account.inbox, user=agent)
    return account.inbox_id, session_cookie(agent)


async def test_an_agent_is_told_live_of_a_dm_the_worker_processed(client: Client, celery_worker: CeleryWorker):
    # given an agent of the account's inbox, connected to the websocket on the Redis channel layer
    assert isinstance(get_channel_layer(), RedisChannelLayer), "the worker publishes through Redis"
    inbox_id, cookie = await sync_to_async(member_of_connected_account)()
    communicator = await inbox_socket(cookie)

    try:
        # when X delivers a customer's DM
        payload = aaa(direct_message_events=[message(FIRST_ID, text="Is anyone there?")])
        delivery_id = await sync_to_async(post_signed)(client, payload)

        # then the worker's publish crosses processes to the agent's websocket
        created = await next_event(communicator, "message.created")
        assert (created["x_event_id"], created["direction"], created["inbox_id"]) == (
            str(FIRST_ID),
            "inbound",
            inbox_id,
        )

        def processed() -> None:
            assert WebhookDelivery.objects.get(pk=delivery_id).status == WebhookDelivery.Status.PROCESSED

        await sync_to_async(celery_worker.eventually)(processed)
    finally:
        await communicator.disconnect()
